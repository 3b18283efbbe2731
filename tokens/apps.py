from django.apps import AppConfig


class TokensConfig(AppConfig):
    """OPD slot tokens (seed 002): doctors, slots, priority tokens, waiting lists, delays, the daily report."""

    name = "tokens"
    verbose_name = "OPD tokens"

    def ready(self):
        from core import boards

        from idseq.signals import restore_scopes
        from tokens import selectors, services

        # The doctors' rooms' calls appear on waiting-room boards that ask for "opd" (queues.views.board).
        boards.register("opd", calls=selectors.board_calls, version=selectors.board_version)
        # A restored backup must move past every slot's tokens of the day, even those with no counter in it yet.
        restore_scopes.connect(services.token_scopes_on, dispatch_uid="tokens.token_scopes_on")
