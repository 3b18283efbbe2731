"""Tokenline's kernel, floor 0: the pieces every app shares (domain errors, roles, API permissions and error
shape, page decorators, template context). It imports no app of the project; every app may import it."""
