"""A realistic OPD morning of walk-in visits for the demo: `seed_demo_queues --morning`.

Visits are issued and served through the services (numbers from idseq, steps checked as at a desk); only then are
their timestamps moved back into the morning, so the board, the desks, the wait estimates (median service time)
and the report show a day in progress. Development data only.
"""

import datetime
import random

from django.utils import timezone

from patients.models import Patient
from queues import services
from queues.exceptions import NobodyWaiting
from queues.models import Desk, Queue, Visit

# queue code -> (visits issued, visits already served)
MORNING = {"GEN": (24, 10), "LAB": (10, 5), "PHARM": (6, 3), "XRAY": (4, 1)}
PRIORITIES = ["high"] * 1 + ["medium"] * 7 + ["low"] * 2


def play_morning(*, rng: random.Random, now: datetime.datetime | None = None) -> int:
    """Issue and serve today's demo visits unless today already has visits. Returns the visits issued.

    Per queue of MORNING (skipped when the queue or its desks are missing): visits issued from about two hours
    ago, some served (called, started, completed with 4-12 minutes of service), one called or in consultation per
    desk, the rest waiting.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    if Visit.objects.filter(visit_date=today).exists():
        return 0
    start_of_day = timezone.make_aware(datetime.datetime.combine(today, datetime.time.min))
    opening = max(now - datetime.timedelta(hours=2), start_of_day)
    patients = iter(Patient.objects.filter(is_active=True).order_by("?")[: sum(n for n, _ in MORNING.values())])
    issued = 0
    for code, (count, served) in MORNING.items():
        queue = Queue.objects.filter(code=code, is_active=True).first()
        desks = list(Desk.objects.filter(queues=queue, is_active=True).order_by("pk")) if queue else []
        if not desks:
            continue
        visits = []
        for _ in range(count):
            patient = next(patients, None)
            if patient is None:
                break
            visits.append(services.issue_visit(patient=patient, queue=queue, priority=rng.choice(PRIORITIES)))
        issued += len(visits)
        gap = max(now - datetime.timedelta(minutes=10) - opening, datetime.timedelta(minutes=1)) / (len(visits) + 1)
        for i, visit in enumerate(visits):  # issued through the morning, in token order
            at = opening + gap * i
            Visit.objects.filter(pk=visit.pk).update(issued_at=at, queued_at=at)
        _serve(desks, served, now, rng)
    return issued


def _serve(desks: list[Desk], served: int, now, rng: random.Random) -> None:
    """Serve `served` visits across `desks`, then call one more per desk (the first desk's starts). Times run
    backwards from a few minutes ago at each desk: 4-12 minutes of consultation, a minute to walk in."""
    done = {desk.pk: [] for desk in desks}
    for i in range(served):
        desk = desks[i % len(desks)]
        try:
            visit = services.call_next(desk=desk)
        except NobodyWaiting:
            break
        done[desk.pk].append(services.complete_visit(visit=services.start_visit(visit=visit)))
    for visits in done.values():
        clock = now - datetime.timedelta(minutes=3)
        for visit in reversed(visits):
            started = clock - datetime.timedelta(minutes=rng.randint(4, 12))
            called = started - datetime.timedelta(minutes=1)
            issued = min(visit.issued_at, called - datetime.timedelta(minutes=5))
            Visit.objects.filter(pk=visit.pk).update(
                issued_at=issued, queued_at=issued, called_at=called, announced_at=called, started_at=started,
                completed_at=clock,
            )
            clock = called - datetime.timedelta(minutes=1)
    for i, desk in enumerate(desks):
        try:
            visit = services.call_next(desk=desk)
        except NobodyWaiting:
            return
        called = now - datetime.timedelta(minutes=2, seconds=20 * i)
        if i == 0:
            visit = services.start_visit(visit=visit)
            Visit.objects.filter(pk=visit.pk).update(started_at=called + datetime.timedelta(minutes=1))
        Visit.objects.filter(pk=visit.pk).update(called_at=called, announced_at=called)
