"""Call-next under races on real PostgreSQL, threads with their own connections: two calls at one desk, desks
calling across one line while other transactions hold waiting visits and let them go (a desk whose call failed, a
transfer), and a desk serving a whole line while the planner's statistics change. Each call marks exactly one visit:
never two at one desk (queues_visit_one_at_desk), none twice, none skipped; a busy desk is named with its patient."""

import random
import threading
import time

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from queues import claim, services
from queues.exceptions import DeskBusy, NobodyWaiting
from queues.models import Desk, Visit
from tests.conftest import run_in_threads
from tests.queues.conftest import make_desk, make_patients

S = Visit.Status


def line(queue, count: int) -> None:
    for patient in make_patients(count):
        services.issue_visit(patient=patient, queue=queue)


@pytest.mark.django_db(transaction=True)
def test_two_calls_at_one_desk_at_once_call_one_visit_and_name_it_to_the_other(general):
    line(general, 40)
    desk = make_desk("Room 1", general)
    for _ in range(15):
        called, errors = run_in_threads(lambda i: services.call_next(desk=Desk(pk=desk.pk)), 2)
        assert len(called) == 1 and len(errors) == 1, errors
        assert isinstance(errors[0], DeskBusy) and called[0].token in str(errors[0])  # "still has GEN-007 called"
        services.mark_no_show(visit=called[0])
    assert Visit.objects.filter(status=S.NO_SHOW).count() == 15
    assert not Visit.objects.filter(status=S.CALLED).exists()


@pytest.mark.django_db(transaction=True)
def test_desks_calling_while_others_hold_and_release_waiting_visits_call_each_visit_once(general):
    line(general, 150)
    desks = [make_desk(f"Room {i}", general).pk for i in range(3)]
    done, lock, finished = threading.Event(), threading.Lock(), []

    def desk_work(i):
        desk, calls = Desk(pk=desks[i]), []
        while True:
            try:
                visit = services.call_next(desk=desk)
            except NobodyWaiting:  # or every visit left is held by a holder for the moment (SKIP LOCKED)
                if not Visit.objects.filter(status=S.WAITING).exists():
                    return calls
                continue
            calls.append(visit.token_number)
            services.mark_no_show(visit=visit)

    def holder():  # locks the first waiting visits for a moment and rolls back, as a call that failed does
        rng = random.Random(1)
        while not done.is_set():
            with transaction.atomic():
                list(Visit.objects.filter(status=S.WAITING).order_by(*Visit.CALL_ORDER)
                     .select_for_update(skip_locked=True).values_list("pk", flat=True)[:rng.randint(1, 3)])
                time.sleep(rng.random() / 500)
                transaction.set_rollback(True)

    def work(i):
        if i >= len(desks):
            holder()
            return []
        try:
            return desk_work(i)
        finally:
            with lock:
                finished.append(i)
                if len(finished) == len(desks):
                    done.set()

    results, errors = run_in_threads(work, len(desks) + 2)
    assert not errors, errors
    called = sorted(n for calls in results for n in calls)
    assert called == list(range(1, 151))  # none twice, none skipped


@pytest.mark.django_db(transaction=True)
def test_one_desk_serves_a_whole_line_while_statistics_change(general):
    line(general, 60)
    desk = make_desk("Room 1", general)
    tokens = []
    for n in range(60):
        if n % 15 == 5:
            with connection.cursor() as cursor:  # new statistics: the planner may pick another plan
                cursor.execute("ANALYZE queues_visit")
        visit = services.call_next(desk=Desk(pk=desk.pk))
        tokens.append(visit.token_number)
        services.complete_visit(visit=services.start_visit(visit=visit))
    assert tokens == list(range(1, 61))
    assert Visit.objects.filter(status=S.COMPLETED, visit_date=timezone.localdate()).count() == 60


def claim_params(desk, queue) -> dict:
    return {"called": S.CALLED, "waiting": S.WAITING, "desk": desk.pk, "now": timezone.now(), "called_by": None,
            "day": timezone.localdate(), "q0": queue.pk}


@pytest.mark.django_db(transaction=True)
def test_a_pick_run_again_in_one_update_seats_a_second_patient_at_the_desk(general):
    # Why claim_statement picks in an InitPlan: here the pick is correlated, so PostgreSQL runs it for each row it
    # scans; the second run passes over the visit the statement has just called (SKIP LOCKED skips a row the same
    # command updated) and takes the next, and the desk gets two patients in one statement.
    line(general, 2)
    desk = make_desk("Room 1", general)
    sql, _ = claim.claim_statement(1)
    per_row = sql.replace("WHERE queue_id IN", "WHERE queue_id = v.queue_id AND queue_id IN")
    with pytest.raises(IntegrityError, match="queues_visit_one_at_desk"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(per_row, claim_params(desk, general))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("joins", ["any", "nested loops only"])
def test_the_claim_picks_once_per_statement_whatever_the_plan(general, joins):
    line(general, 3)
    desk = make_desk("Room 1", general)
    sql, _ = claim.claim_statement(1)
    with transaction.atomic(), connection.cursor() as cursor:
        if joins != "any":
            cursor.execute("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off;"
                           "SET LOCAL enable_material = off")
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, FORMAT JSON) " + sql, claim_params(desk, general))
        plan = cursor.fetchone()[0][0]["Plan"]
        transaction.set_rollback(True)
    picks = []

    def walk(node, under):  # `under`: the subplan kinds (InitPlan, SubPlan) between the top and `node`
        under = under + [node["Parent Relationship"]] if node.get("Parent Relationship") in ("InitPlan", "SubPlan") \
            else under
        if node["Node Type"] == "LockRows":
            picks.append((node, under))
        for child in node.get("Plans", []):
            walk(child, under)

    walk(plan, [])
    ((lock, under),) = picks
    assert under == ["InitPlan"], plan  # run once per statement, before the join
    assert lock["Actual Loops"] == 1
    assert plan["Actual Rows"] == 1  # one visit called
