from django.apps import AppConfig


class PatientsConfig(AppConfig):
    """Patient registration and search."""

    name = "patients"

    def ready(self):
        from django.db.models.signals import post_migrate

        from patients import checks  # noqa: F401  (registers the settings check)

        from core.roles import sync_roles_after_migrate

        # Groups get the permissions of apps migrated after the roles migration too.
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="tokenline-sync-roles")
