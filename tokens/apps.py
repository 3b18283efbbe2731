from django.apps import AppConfig


class TokensConfig(AppConfig):
    """OPD slot tokens (seed 002): doctors, slots, priority tokens, waiting lists, delays, the daily report."""

    name = "tokens"
    verbose_name = "OPD tokens"
