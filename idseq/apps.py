from django.apps import AppConfig


class IdseqConfig(AppConfig):
    """The one source of numbers. Imports no other app of the project."""

    name = "idseq"
    verbose_name = "Number sequences"

    def ready(self):
        from django.db.models.signals import post_migrate

        from idseq.builtin import create_builtin_sequences_after_migrate

        # Flushed databases (transactional tests) get the built-in sequences back, as groups get permissions.
        post_migrate.connect(create_builtin_sequences_after_migrate, sender=self, dispatch_uid="idseq-builtins")
