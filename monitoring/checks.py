"""System check: METRICS_ALLOWED_IPS holds addresses or networks, so a typo stops startup instead of every scrape."""

import ipaddress

from django.conf import settings
from django.core.checks import Error, register


@register()
def check_metrics_allowed_ips(app_configs, **kwargs):
    errors = []
    for entry in settings.METRICS_ALLOWED_IPS:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            errors.append(
                Error(f"METRICS_ALLOWED_IPS: {entry!r} is not an IP address or network (e.g. 10.0.0.0/8).",
                      id="monitoring.E001")
            )
    return errors
