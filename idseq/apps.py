from django.apps import AppConfig


class IdseqConfig(AppConfig):
    """The one source of numbers. Imports no other app of the project."""

    name = "idseq"
    verbose_name = "Number sequences"
