from django.apps import AppConfig


class RemindersConfig(AppConfig):
    """Reminders: `manage.py send_reminders` writes the due ones; the outbox asks `receivers.still_wanted` before
    sending each, so a reminder for a token cancelled since is never sent."""

    name = "reminders"

    def ready(self):
        from core.signals import notice_still_wanted

        from reminders.receivers import still_wanted

        notice_still_wanted.connect(still_wanted, dispatch_uid="reminders-still-wanted")
