"""Reads on the outbox, for /metrics and the admin."""

from django.db.models import Count

from notifications.models import Notification


def counts_by_state() -> dict[str, int]:
    """How many notifications are in each state: `{"pending": 3, "sending": 0, "delivered": 120, "failed": 1}`,
    every state present (0 when none). One aggregate query."""
    counts = dict.fromkeys(Notification.State.values, 0)
    rows = Notification.objects.order_by().values_list("state").annotate(n=Count("pk"))
    counts.update(dict(rows))
    return counts


def written_keys(keys) -> set[str]:
    """Which of `keys` (notice keys, core.signals.notice_key) have a row in the outbox already, for any adapter: what
    a scheduler need not send again. One query on the key's unique index."""
    return set(Notification.objects.filter(key__in=list(keys)).values_list("key", flat=True).distinct())
