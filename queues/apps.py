from django.apps import AppConfig


class QueuesConfig(AppConfig):
    """Walk-in queues: daily tokens per queue, desks, explicit visit steps and the waiting-room board."""

    name = "queues"
    verbose_name = "Walk-in queues"

    def ready(self):
        from patients import panels

        from idseq.signals import restore_scopes
        from queues.panels import issue_token_panel
        from queues.services import token_scopes_on

        panels.register(issue_token_panel)
        # A restored backup must move past every queue's tokens of the day, even those with no counter in it yet.
        restore_scopes.connect(token_scopes_on, dispatch_uid="queues.token_scopes_on")
