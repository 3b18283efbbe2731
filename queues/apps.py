from django.apps import AppConfig


class QueuesConfig(AppConfig):
    """Walk-in queues: daily tokens per queue, desks, explicit visit steps and the waiting-room board."""

    name = "queues"
    verbose_name = "Walk-in queues"

    def ready(self):
        from patients import panels

        from queues.panels import issue_token_panel

        panels.register(issue_token_panel)
