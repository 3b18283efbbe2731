"""Parallel desks and receptions on real PostgreSQL: tokens unique and gapless, no visit
called twice or skipped, positions 1..n at every step."""

import random
import threading
import time

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from queues import selectors, services
from queues.exceptions import NobodyWaiting
from queues.models import Desk, Queue, Visit
from tests.conftest import run_in_threads
from tests.queues.conftest import make_desk, make_patients

S = Visit.Status


@pytest.mark.django_db(transaction=True)
def test_32_parallel_issues_get_tokens_1_to_32(general):
    patients = make_patients(32)
    tokens, errors = run_in_threads(
        lambda i: services.issue_visit(patient=patients[i], queue=general).token_number, 32
    )
    assert not errors
    assert sorted(tokens) == list(range(1, 33))
    assert selectors.integrity(queue=general, visit_date=timezone.localdate())["ok"]


@pytest.mark.django_db(transaction=True)
def test_two_desks_calling_200_times_in_parallel_call_every_visit_once(general):
    for patient in make_patients(200):
        services.issue_visit(patient=patient, queue=general)
    desks = [make_desk("Room 1", general).pk, make_desk("Room 2", general).pk]

    def work(i):
        desk, called = Desk.objects.get(pk=desks[i]), []
        while True:
            try:
                visit = services.call_next(desk=desk)
            except NobodyWaiting:
                return called
            called.append(visit.token_number)
            services.mark_no_show(visit=visit)

    results, errors = run_in_threads(work, 2)
    assert not errors
    assert all(results), "both desks took part"
    assert sorted(results[0] + results[1]) == list(range(1, 201))  # none twice, none skipped
    assert all(calls == sorted(calls) for calls in results)  # each desk in line order
    assert set(Visit.objects.values_list("status", flat=True)) == {S.NO_SHOW}


@pytest.mark.django_db(transaction=True)
def test_a_desk_skips_the_visit_another_desk_holds_instead_of_waiting(general):
    a, b = make_patients(2)
    first = services.issue_visit(patient=a, queue=general)
    services.issue_visit(patient=b, queue=general)
    desk = make_desk("Room 2", general)
    held, release = threading.Event(), threading.Event()

    def other_desk():  # holds GEN-001's row lock as a desk mid-call-next would
        with transaction.atomic():
            Visit.objects.select_for_update().get(pk=first.pk)
            held.set()
            release.wait(5)
        connection.close()

    holder = threading.Thread(target=other_desk)
    holder.start()
    held.wait(5)
    started = time.monotonic()
    visit = services.call_next(desk=desk)
    elapsed = time.monotonic() - started
    release.set()
    holder.join()
    assert visit.token == "GEN-002"
    assert elapsed < 2.5  # it would wait the 5 s the other desk holds the row


@pytest.mark.django_db(transaction=True)
def test_positions_stay_1_to_n_through_a_mixed_parallel_run(general, lab):
    patients = make_patients(36)
    desks = [make_desk(f"Room {i}", general).pk for i in range(3)] + [make_desk("Lab counter", lab).pk]
    queue_ids = [general.pk, lab.pk]
    problems = []

    def check():
        for queue in Queue.objects.filter(pk__in=queue_ids):
            report = selectors.integrity(queue=queue, visit_date=timezone.localdate())
            if not report["ok"]:
                problems.append(report)

    def reception(i):
        for patient in patients[i::2]:
            services.issue_visit(patient=patient, queue=general, priority=random.choice(Visit.Priority.values))
            check()

    def desk_work(i):
        rng, desk = random.Random(i), Desk.objects.get(pk=desks[i - 2])
        for _ in range(25):
            try:
                visit = services.call_next(desk=desk)
            except NobodyWaiting:
                continue
            check()
            move = rng.choice(["complete", "no_show", "recall", "transfer", "cancel"])
            if move == "complete":
                services.complete_visit(visit=services.start_visit(visit=visit))
            elif move in ("no_show", "recall"):
                services.mark_no_show(visit=visit)
                if move == "recall":
                    check()
                    services.recall_visit(visit=visit)
            elif move == "transfer" and visit.queue_id == general.pk:
                services.transfer_visit(visit=visit, to_queue=lab)
            else:
                services.cancel_visit(visit=visit)
            check()

    _, errors = run_in_threads(lambda i: reception(i) if i < 2 else desk_work(i), 2 + len(desks))
    assert not errors
    assert not problems
    assert Visit.objects.exclude(status=S.WAITING).exists() and Visit.objects.filter(queue=lab).exists()
    call_command("queue_check")  # raises CommandError when anything is wrong
