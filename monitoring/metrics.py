"""Metrics measured inside each process: how long counter row locks took, and lock timeouts.

They are fed by idseq's `counter_locked` signal (idseq imports no metrics library). Under gunicorn with several
workers, prometheus_client keeps each worker's values in files under PROMETHEUS_MULTIPROC_DIR and the scrape adds
them up (`monitoring.views`). Request latency per view comes from django-prometheus' middleware.
"""

import re

from django.dispatch import receiver
from prometheus_client import Counter, Histogram

from idseq.signals import counter_locked

LOCK_WAIT = Histogram(
    "tokenline_counter_lock_wait_seconds",
    "Seconds taken to lock a counter row (SELECT ... FOR UPDATE), waiting behind other transactions included.",
    ["counter"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
)
LOCK_TIMEOUTS = Counter(
    "tokenline_counter_lock_timeouts",  # exposed as ..._total
    "Counter row locks given up on because lock_timeout or statement_timeout ran out.",
    ["counter"],
)

# Parts of a counter key that change every day or slot: UUIDs, dates and numbers.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_VARYING = re.compile(r"[0-9-]+")


def counter_label(key: str) -> str:
    """The label a counter key is measured under: the sequence key and the parts of its scope that do not change
    each day or slot, so that the number of series stays bounded. "mrn" -> "mrn", "mrn-dated@2026-11-25" ->
    "mrn-dated", "visit-token@GEN-20261125" -> "visit-token:GEN", "slot-token@<uuid>" -> "slot-token", an ad-hoc
    "x:GEN:2026-11-25" -> "x:GEN"."""
    sequence, _, scope = _UUID.sub("", key).partition("@")
    parts = [*sequence.split(":"), *re.split(r"[-:]", scope)]
    return ":".join(part for part in parts if part and not _VARYING.fullmatch(part))[:100] or "other"


@receiver(counter_locked, dispatch_uid="monitoring.metrics.observe_counter_lock")
def observe_counter_lock(*, key: str, seconds: float, timed_out: bool, **_) -> None:
    """Record one counter lock (idseq's `counter_locked` signal): its wait, and whether it timed out."""
    label = counter_label(key)
    LOCK_WAIT.labels(counter=label).observe(seconds)
    if timed_out:
        LOCK_TIMEOUTS.labels(counter=label).inc()
