from django.apps import AppConfig


class PatientsConfig(AppConfig):
    """Patient registration and search."""

    name = "patients"

    def ready(self):
        from django.db.models.signals import post_migrate

        from patients import checks  # noqa: F401  (registers the settings check)

        from core.roles import sync_roles_after_migrate
        from idseq.coalesce import register_writer
        from patients.services import REGISTRATION, insert_queued_registrations

        # Groups get the permissions of apps migrated after the roles migration too.
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="tokenline-sync-roles")
        # Any process may lead a batch of coalesced registrations, so every process can write them.
        register_writer(REGISTRATION, insert_queued_registrations)
