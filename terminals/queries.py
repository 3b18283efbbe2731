"""Reads on terminals: utilisation of their ranges (seed 001's monitoring numbers, computed correctly), and the
ops view (contacts per machine, refused and unsynced registrations, leases, incidents, clock skew) with the
figures /metrics shows.

Named `queries`, not `selectors` as in the other apps: the terminal's client (terminals/client.py) may be run as a
script from this directory, and a `selectors.py` here would shadow the standard library module it needs."""

from django.db import connection
from django.db.models import Count, Prefetch, Q

from patients.models import Patient
from terminals import devices
from terminals.incidents import open_incident_count, open_incidents
from terminals.models import LabTerminal, RefusedRegistration, TerminalDevice, TerminalLease, TerminalRange
from terminals.services import CRITICAL_PERCENT, WARNING_PERCENT, online_mrn_last

__all__ = [
    "open_incident_count", "skewed_terminal_count", "ops_view", "utilisation", "lease_reply", "unsynced_leased",
    "stale_lease_count",
]


def level(percent: float) -> str:
    """`ok`, `warning` (from 80 %) or `critical` (from 90 %)."""
    if percent >= CRITICAL_PERCENT:
        return "critical"
    if percent >= WARNING_PERCENT:
        return "warning"
    return "ok"


def figures(ranges) -> dict:
    """Utilisation of some ranges together: {"used", "total", "remaining" (numbers), "percent" (0-100, two
    decimals), "level"}."""
    used, total = sum(r.used for r in ranges), sum(r.total for r in ranges)
    percent = round(100 * used / total, 2) if total else 0.0
    return {"used": used, "total": total, "percent": percent, "remaining": total - used, "level": level(percent)}


def utilisation() -> dict:
    """Utilisation of every terminal's active ranges.

    Returns: {"terminals": [{"code", "name", "is_active", "registered" (offline patients stored for it), "used",
    "total", "percent" (0-100, two decimals), "remaining", "level", "ranges": [{"start", "end", "current",
    "from_pool", "used", "total", "percent", "remaining", "level"}, ...]}, ...],
    "online_mrn_last": the online counter's last value, "online_headroom": numbers between it and the lowest
    active range (None without ranges)}. "used" counts numbers handed out: registered by the server or leased.
    """
    terminals = LabTerminal.objects.annotate(
        registered=Count("patients", filter=Q(patients__is_offline_entry=True))
    ).prefetch_related(
        Prefetch("ranges", queryset=TerminalRange.objects.filter(is_active=True).select_related("reservation")
                 .order_by("start"))
    ).order_by("code")
    rows = []
    for terminal in terminals:
        ranges = list(terminal.ranges.all())
        rows.append({
            "code": terminal.code,
            "name": terminal.name,
            "is_active": terminal.is_active,
            "registered": terminal.registered,
            **figures(ranges),
            "ranges": [
                {"start": r.start, "end": r.end, "current": r.current, "from_pool": r.from_pool,
                 **figures([r])}
                for r in ranges
            ],
        })
    online_last = online_mrn_last()
    lowest = TerminalRange.objects.filter(is_active=True).order_by("start").values_list("start", flat=True).first()
    return {
        "terminals": rows,
        "online_mrn_last": online_last,
        "online_headroom": None if lowest is None else max(lowest - online_last - 1, 0),
    }


def unsynced_leased() -> dict[str, int]:
    """Per terminal code, how many of the numbers leased to it no synced registration carries yet: registrations
    still in the terminal's outbox, or numbers it has not used yet (the server cannot tell the two apart until the
    terminal syncs). Every terminal is included (0 when it has no lease). One query."""
    lease, patient = TerminalLease._meta.db_table, Patient._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT t.code,
                   coalesce((SELECT sum(l."end" - l.start + 1) FROM {lease} l WHERE l.terminal_id = t.id), 0)
                   - (SELECT count(*) FROM {patient} p
                      WHERE p.origin_terminal_id = t.id AND p.is_offline_entry AND EXISTS (
                          SELECT 1 FROM {lease} l WHERE l.terminal_id = t.id
                          -- the number however it is written (grouped or plain): Patient.mrn_value
                          AND p.mrn_value BETWEEN l.start AND l."end"))
            FROM {LabTerminal._meta.db_table} t ORDER BY t.code
            """
        )
        return {code: int(count) for code, count in cursor.fetchall()}


def lease_reply(lease: TerminalLease) -> dict:
    """What a terminal learns with a lease: {"granted" (numbers in the lease), "requested", "short"
    (fewer granted than asked: the range ended), and its active ranges' "remaining", "percent", "level"}."""
    shown = figures(list(lease.terminal.ranges.filter(is_active=True).select_related("reservation")))
    requested = lease.requested or lease.total
    return {"granted": lease.total, "requested": requested, "short": lease.total < requested,
            "remaining": shown["remaining"], "percent": shown["percent"], "level": shown["level"]}


def skewed_terminal_count() -> int:
    """Active terminals whose clock was off by more than 10 minutes at their latest contact (for /metrics)."""
    limit = int(devices.SKEW_LIMIT.total_seconds())
    return LabTerminal.objects.filter(Q(clock_skew_seconds__gt=limit) | Q(clock_skew_seconds__lt=-limit),
                                      is_active=True).count()


def stale_lease_count() -> int:
    """Leases with numbers reported printed but not synced, unreported for TOKENLINE_OFFLINE_STALE_HOURS (/metrics):
    most likely a dead PC's slips whose records the server does not hold; hand the lease over."""
    return sum(lease["stale"] for terminal in LabTerminal.objects.all() for lease in devices.lease_states(terminal))


def ops_view(*, code: str | None = None) -> list[dict]:
    """Per terminal (only `code` when given), what ops watch, from the server's own state.

    Returns [{"code", "name", "is_active", "last_contact_at", "last_sync_at" (None: never), "pending" (numbers its
    machines reported printed that no stored registration carries yet), "refused" (registrations refused and not
    stored since), "clock_skew_seconds", "clock_skewed" (over 10 minutes), "registered" (offline patients stored),
    "open_incidents", "stale_leases", "leased", "used", "unused", "leases": [devices.lease_state, ...],
    "devices": [{"device_id", "first_seen_at", "last_contact_at", "last_sync_at", "clock_skew_seconds", "pending",
    "refused", "leases" (how many are bound to it), "kind" ("browser": an offline registration page, "client": the
    command-line client), "leased", "used", "unused" (its leases' figures, as the terminal's)}, ...]}, ...], ordered
    by code.
    """
    terminals = LabTerminal.objects.annotate(
        registered=Count("patients", filter=Q(patients__is_offline_entry=True), distinct=True),
    ).order_by("code")
    if code is not None:
        terminals = terminals.filter(code=code)
    incidents = dict(open_incidents().values("terminal").annotate(n=Count("pk")).values_list("terminal", "n"))
    refused = {}
    for terminal_id, device_id, count in (RefusedRegistration.objects.values("terminal", "device_id")
                                          .annotate(n=Count("pk")).values_list("terminal", "device_id", "n")):
        refused[terminal_id, device_id] = count
    machines = {}
    for device in TerminalDevice.objects.order_by("first_seen_at"):
        machines.setdefault(device.terminal_id, []).append(device)
    rows = []
    for terminal in terminals:
        leases = devices.lease_states(terminal)
        shown = []
        for device in machines.get(terminal.pk, []):
            own = [lease for lease in leases if lease["device_id"] == device.device_id]
            shown.append({
                "device_id": device.device_id, "first_seen_at": device.first_seen_at,
                "last_contact_at": device.last_contact_at, "last_sync_at": device.last_sync_at,
                "clock_skew_seconds": device.clock_skew_seconds,
                "pending": sum(lease["unsynced"] or 0 for lease in own),
                "refused": refused.get((terminal.pk, device.device_id), 0), "leases": len(own),
                "kind": devices.device_kind(device.device_id), "leased": sum(lease["count"] for lease in own),
                "used": sum(lease["used"] for lease in own), "unused": sum(lease["unused"] for lease in own),
            })
        rows.append({
            "code": terminal.code, "name": terminal.name, "is_active": terminal.is_active,
            "last_contact_at": terminal.last_contact_at, "last_sync_at": terminal.last_sync_at,
            "pending": sum(lease["unsynced"] or 0 for lease in leases),
            "refused": sum(n for (terminal_id, _), n in refused.items() if terminal_id == terminal.pk),
            "clock_skew_seconds": terminal.clock_skew_seconds,
            "clock_skewed": devices.skewed(terminal.clock_skew_seconds),
            "registered": terminal.registered, "open_incidents": incidents.get(terminal.pk, 0),
            "stale_leases": sum(lease["stale"] for lease in leases),
            "leased": sum(lease["count"] for lease in leases), "used": sum(lease["used"] for lease in leases),
            "unused": sum(lease["unused"] for lease in leases), "leases": leases, "devices": shown,
        })
    return rows
