from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """/health/ for load balancers and /metrics for Prometheus. Builds on every app, none imports it."""

    name = "monitoring"

    def ready(self):
        from monitoring import checks, metrics  # noqa: F401  (registers the system check and the idseq listener)
