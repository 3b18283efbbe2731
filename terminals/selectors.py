"""Reads on terminals: utilisation of their ranges (seed 001's monitoring numbers, computed correctly), and the
ops view (contacts, outboxes, leases, incidents, clock skew) with the figures /metrics shows."""

from django.db import connection
from django.db.models import Count, Prefetch, Q

from patients.models import Patient
from terminals import devices
from terminals.incidents import open_incident_count, open_incidents
from terminals.models import LabTerminal, TerminalLease, TerminalRange
from terminals.services import CRITICAL_PERCENT, WARNING_PERCENT, online_mrn_last

__all__ = [
    "open_incident_count", "skewed_terminal_count", "ops_view", "utilisation", "lease_reply", "unsynced_leased",
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


def ops_view(*, code: str | None = None) -> list[dict]:
    """Per terminal (only `code` when given), what ops watch.

    Returns [{"code", "name", "is_active", "last_contact_at", "last_sync_at" (None: never), "pending",
    "refused" (as the terminal last reported them; None: never reported), "clock_skew_seconds", "clock_skewed"
    (over 10 minutes), "registered" (offline patients stored), "open_incidents", "leased", "used", "unused",
    "leases": [devices.lease_state, ...]}, ...], ordered by code.
    """
    terminals = LabTerminal.objects.annotate(
        registered=Count("patients", filter=Q(patients__is_offline_entry=True), distinct=True),
    ).order_by("code")
    if code is not None:
        terminals = terminals.filter(code=code)
    incidents = dict(open_incidents().values("terminal").annotate(n=Count("pk")).values_list("terminal", "n"))
    rows = []
    for terminal in terminals:
        leases = devices.lease_states(terminal)
        rows.append({
            "code": terminal.code, "name": terminal.name, "is_active": terminal.is_active,
            "last_contact_at": terminal.last_contact_at, "last_sync_at": terminal.last_sync_at,
            "pending": terminal.pending_reported, "refused": terminal.refused_reported,
            "clock_skew_seconds": terminal.clock_skew_seconds,
            "clock_skewed": devices.skewed(terminal.clock_skew_seconds),
            "registered": terminal.registered, "open_incidents": incidents.get(terminal.pk, 0),
            "leased": sum(lease["count"] for lease in leases), "used": sum(lease["used"] for lease in leases),
            "unused": sum(lease["unused"] for lease in leases), "leases": leases,
        })
    return rows
