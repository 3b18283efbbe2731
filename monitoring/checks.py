"""System checks: METRICS_ALLOWED_IPS holds addresses or networks, so a typo stops startup instead of every scrape;
and, with `check --deploy --database default`, whether the database has a synchronous standby."""

import ipaddress

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import DatabaseError

from core.replication import replication_state


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


@register(Tags.database, deploy=True)
def check_synchronous_standby(app_configs, databases=None, **kwargs):
    """`check --deploy --database default`: warn when the database has no synchronous standby attached (a failover
    can lose acknowledged numbers and issue them again; docs/operations/failover.md), or cannot be read. A database
    check, as Django's own: it runs only when `--database` names one, so `check --deploy` alone needs no server."""
    if not databases:
        return []
    try:
        state = replication_state()
    except DatabaseError as exc:
        return [Warning(f"Could not read the database's replication state: {exc}", id="monitoring.W001")]
    if state.synchronous and not state.in_recovery:
        return []
    return [Warning(state.describe(), hint="Attach a synchronous standby (synchronous_standby_names, Patroni's "
                    "synchronous_mode) and see docs/operations/failover.md.", id="monitoring.W002")]
