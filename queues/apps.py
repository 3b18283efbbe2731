from django.apps import AppConfig


class QueuesConfig(AppConfig):
    """Walk-in queues: daily tokens per queue, desks, explicit visit steps and the waiting-room board (issue #7)."""

    name = "queues"
    verbose_name = "Walk-in queues"
