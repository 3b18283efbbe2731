from django.apps import AppConfig
from django.core import checks


class TerminalsConfig(AppConfig):
    """Lab terminals: offline MRN ranges, leases and sync (seed 001)."""

    name = "terminals"

    def ready(self):
        from django.db.models.signals import post_migrate

        checks.register(check_offline_pool)
        post_migrate.connect(reserve_offline_pool, sender=self, dispatch_uid="terminals-offline-pool")


def reserve_offline_pool(**kwargs) -> None:
    """After every migrate, reserve the offline pool in the MRN sequence before online numbering can reach it."""
    from terminals.services import pool_reservations

    pool_reservations()


def check_offline_pool(app_configs=None, **kwargs) -> list:
    """A malformed TOKENLINE_OFFLINE_POOL is reported at startup, not when a terminal first needs the pool."""
    from terminals.services import offline_pool

    try:
        offline_pool()
    except ValueError as exc:
        return [checks.Error(f"TOKENLINE_OFFLINE_POOL: {exc}", hint='Write it as "700000-799999".',
                             id="terminals.E001")]
    return []
