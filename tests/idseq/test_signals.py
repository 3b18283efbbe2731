"""idseq's `counter_locked` signal: sent for every counter lock, harmless when a listener fails."""

from django.db import transaction
from psycopg.errors import LockNotAvailable

from core.busy import timed_out
from idseq.exceptions import IdseqError
from idseq.services import allocate
from idseq.signals import counter_locked


def test_every_counter_lock_is_reported_with_its_key_and_wait(db):
    heard = []

    def listener(**kwargs):
        heard.append(kwargs)

    counter_locked.connect(listener)
    try:
        with transaction.atomic():
            allocate("visit-token:GEN:2026-11-25")
            allocate("visit-token:GEN:2026-11-25")
    finally:
        counter_locked.disconnect(listener)
    assert [(h["key"], h["timed_out"]) for h in heard] == [("visit-token:GEN:2026-11-25", False)] * 2
    assert all(0 <= h["seconds"] < 5 for h in heard)


def test_a_failing_listener_never_fails_a_number(db):
    def broken(**kwargs):
        raise RuntimeError("metrics are down")

    counter_locked.connect(broken)
    try:
        with transaction.atomic():
            assert allocate("adhoc") == range(1, 2)
    finally:
        counter_locked.disconnect(broken)


def test_a_timeout_is_recognised_raw_or_chained_into_a_domain_error():
    try:
        try:
            raise LockNotAvailable("canceling statement due to lock timeout")
        except LockNotAvailable as exc:
            raise IdseqError("Numbering is busy") from exc
    except IdseqError as exc:
        chained = exc
    assert timed_out(LockNotAvailable()) and timed_out(chained)
    assert not timed_out(IdseqError("exhausted")) and not timed_out(None)
