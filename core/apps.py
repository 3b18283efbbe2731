from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The kernel as an app: its post_migrate hook creates the database cache table; it puts the admin behind a
    second factor when TOKENLINE_ADMIN_REQUIRE_2FA is on (core.admin.TokenlineAdminSite)."""

    name = "core"

    def ready(self):
        from django.contrib import admin
        from django.db.models.signals import post_migrate
        from rest_framework.authtoken.models import TokenProxy

        from core.admin import TokenlineAdminSite

        admin.site.__class__ = TokenlineAdminSite
        # DRF's plaintext tokens are gone (migration core.0001); only knox's tokens are shown and made.
        if admin.site.is_registered(TokenProxy):
            admin.site.unregister(TokenProxy)

        post_migrate.connect(create_cache_table_after_migrate, dispatch_uid="tokenline-createcachetable")


def create_cache_table_after_migrate(sender, **kwargs) -> None:
    """post_migrate hook: `createcachetable` (idempotent) once per migrate, after the last project app, so the
    database cache that DRF's throttles count in (shared by every gunicorn worker) exists without a manual step."""
    from django.core.management import call_command

    from core.roles import PROJECT_APPS

    if sender.name == PROJECT_APPS[-1]:
        call_command("createcachetable", verbosity=0)
