from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """The outbox: rows written with the call (core.signals.patient_notice), delivered after commit by the worker."""

    name = "notifications"

    def ready(self):
        from core.signals import patient_notice

        from notifications.receivers import write_outbox

        patient_notice.connect(write_outbox, dispatch_uid="notifications-outbox")
