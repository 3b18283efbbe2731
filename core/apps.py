from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The kernel as an app: its post_migrate hook creates the database cache table; it puts the admin behind a
    second factor when TOKENLINE_ADMIN_REQUIRE_2FA is on (core.admin.TokenlineAdminSite); it empties the API's kept
    token lookups when a user, token or role changes (core.authentication.forget)."""

    name = "core"

    def ready(self):
        from django.contrib import admin
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group
        from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save
        from knox.models import AuthToken
        from rest_framework.authtoken.models import TokenProxy

        from core.admin import TokenlineAdminSite

        admin.site.__class__ = TokenlineAdminSite
        # DRF's plaintext tokens are gone (migration core.0001); only knox's tokens are shown and made.
        if admin.site.is_registered(TokenProxy):
            admin.site.unregister(TokenProxy)

        post_migrate.connect(create_cache_table_after_migrate, dispatch_uid="tokenline-createcachetable")
        # A user, token or role changed here counts at once in this process (core.authentication keeps lookups).
        from core.authentication import forget

        User = get_user_model()
        for model in (User, AuthToken, Group):
            post_save.connect(forget, sender=model, dispatch_uid=f"tokenline-forget-save-{model.__name__}")
            post_delete.connect(forget, sender=model, dispatch_uid=f"tokenline-forget-delete-{model.__name__}")
        for through in (User.groups.through, User.user_permissions.through, Group.permissions.through):
            m2m_changed.connect(forget, sender=through, dispatch_uid=f"tokenline-forget-m2m-{through.__name__}")


def create_cache_table_after_migrate(sender, **kwargs) -> None:
    """post_migrate hook: `createcachetable` (idempotent) once per migrate, after the last project app, so the
    database cache that DRF's throttles count in (shared by every gunicorn worker) exists without a manual step."""
    from django.core.management import call_command

    from core.roles import PROJECT_APPS

    if sender.name == PROJECT_APPS[-1]:
        call_command("createcachetable", verbosity=0)
