from django.apps import AppConfig


class TokensConfig(AppConfig):
    """OPD slot tokens (seed 002): doctors, slots, priority tokens, waiting lists, delays, the daily report."""

    name = "tokens"
    verbose_name = "OPD tokens"

    def ready(self):
        from core import boards

        from tokens import selectors

        # The doctors' rooms' calls appear on waiting-room boards that ask for "opd" (queues.views.board).
        boards.register("opd", calls=selectors.board_calls, version=selectors.board_version)
