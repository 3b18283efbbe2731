from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The kernel as an app: its post_migrate hook creates the database cache table (throttle counts)."""

    name = "core"

    def ready(self):
        from django.db.models.signals import post_migrate

        post_migrate.connect(create_cache_table_after_migrate, dispatch_uid="tokenline-createcachetable")


def create_cache_table_after_migrate(sender, **kwargs) -> None:
    """post_migrate hook: `createcachetable` (idempotent) once per migrate, after the last project app, so the
    database cache that DRF's throttles count in (shared by every gunicorn worker) exists without a manual step."""
    from django.core.management import call_command

    from core.roles import PROJECT_APPS

    if sender.name == PROJECT_APPS[-1]:
        call_command("createcachetable", verbosity=0)
