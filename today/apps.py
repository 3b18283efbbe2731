from django.apps import AppConfig


class TodayConfig(AppConfig):
    """The manager's page for the day (`/today/`), its CSV, and the permission that opens them."""

    name = "today"
    verbose_name = "Today"
