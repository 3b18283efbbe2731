"""The two statements of a call-next, in plain SQL: the desk locked with its queue ids, then the next
waiting visit taken and marked called in one `UPDATE ... RETURNING` that also brings back its queue, patient and
issuing user (what the answer and the patient's notification show).

The ORM sent three statements for this (the desk, the visit with `select_related`, its `save`) and building them
cost more CPU than PostgreSQL spent running them; call-next is the request every desk repeats all day. The rules
(inactive desk, nobody waiting, desk busy) stay in `queues.services.call_next`, which runs these in its transaction.
"""

import datetime
import functools

from django.contrib.auth import get_user_model
from django.db import connection

from core.rows import Joined
from patients.models import Patient
from queues.models import Desk, Queue, Visit, VisitStatus


@functools.cache
def lock_desk_statement() -> tuple[str, Joined]:
    """(SQL, its desk columns), built once per process from the models' tables."""
    desk_row = Joined((Desk, "d"))
    sql = f"""
        SELECT {desk_row.columns}, ARRAY(SELECT dq.queue_id FROM {Desk.queues.through._meta.db_table} dq
                                          WHERE dq.desk_id = d.id)
        FROM {Desk._meta.db_table} d WHERE d.id = %(desk)s FOR UPDATE OF d"""
    return sql, desk_row


@functools.cache
def claim_statement(queues: int) -> tuple[str, Joined]:
    """(SQL, its columns) for a desk serving `queues` queues, built once per process and count. The queue ids are
    one placeholder each (`IN (%(q0)s, ...)`), not an array: for a one-queue desk PostgreSQL then reads the
    waiting-line index in call order and stops at the first row, where `= ANY(array)` sorted the whole line.

    The pick (the first waiting visit no other transaction holds) is an uncorrelated scalar subquery in WHERE, which
    PostgreSQL runs once per statement (an InitPlan) whatever the join plan. Written as a subquery in FROM, the
    planner may put it on the inner side of a nested loop and run it again for each outer row; a second run skips
    the visit this statement has just marked called (SKIP LOCKED passes over a row the same command updated) and
    takes the next one, so one call seats two patients at the desk and queues_visit_one_at_desk refuses the UPDATE
    ("already has a patient" at a free desk). tests/queues/test_call_next_races.py shows both.
    """
    User = get_user_model()
    called_row = Joined((Visit, "v"), (Queue, "q"), (Patient, "p"), (User, "u"))
    visits = Visit._meta.db_table
    call_order = ", ".join(Visit._meta.get_field(name).column for name in Visit.CALL_ORDER)
    queue_ids = ", ".join(f"%(q{i})s" for i in range(queues))
    # `w` is the picked row again, before the update, to join what the answer shows (the target `v` cannot be named
    # in the FROM list's join conditions).
    claim = f"""
        UPDATE {visits} v
        SET status = %(called)s, desk_id = %(desk)s, called_at = %(now)s, called_by_id = %(called_by)s,
            announced_at = %(now)s, updated_at = %(now)s
        FROM {visits} w
             JOIN {Queue._meta.db_table} q ON q.id = w.queue_id
             JOIN {Patient._meta.db_table} p ON p.id = w.patient_id
             LEFT JOIN {User._meta.db_table} u ON u.id = w.issued_by_id
        WHERE v.id = (SELECT id FROM {visits}
                      WHERE queue_id IN ({queue_ids}) AND visit_date = %(day)s AND status = %(waiting)s
                      ORDER BY {call_order} LIMIT 1 FOR UPDATE SKIP LOCKED)
          AND w.id = v.id
        RETURNING {called_row.columns}"""
    return claim, called_row


def lock_desk(desk_id: int) -> Desk | None:
    """The desk `desk_id`, its row locked until the transaction ends, with `queue_ids` (list of int) set; None when
    there is no such desk. Must run inside `transaction.atomic()`."""
    sql, desk_row = lock_desk_statement()
    with connection.cursor() as cursor:
        cursor.execute(sql, {"desk": desk_id})
        row = cursor.fetchone()
    if row is None:
        return None
    (desk,) = desk_row.instances(row[:-1])
    desk.queue_ids = row[-1]
    return desk


def claim_next(desk: Desk, called_by, day: datetime.date, now: datetime.datetime) -> Visit | None:
    """Take the first waiting visit of `desk.queue_ids` on `day` (priority, then place in line) that no other
    transaction holds, and mark it called to `desk` by `called_by` (a User or None) at `now`.

    Returns the visit as saved, with `queue`, `patient`, `issued_by`, `desk` and `called_by` set; None when nobody
    is waiting. Raises django.db.IntegrityError (queues_visit_one_at_desk) when the desk already has a visit called
    or in consultation. Must run inside `transaction.atomic()`, after `lock_desk`.
    """
    if not desk.queue_ids:
        return None
    sql, called_row = claim_statement(len(desk.queue_ids))
    params = {
        "called": VisitStatus.CALLED, "waiting": VisitStatus.WAITING, "desk": desk.pk, "now": now,
        "called_by": called_by.pk if called_by is not None else None, "day": day,
        **{f"q{i}": queue_id for i, queue_id in enumerate(desk.queue_ids)},
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    visit, queue, patient, issued_by = called_row.instances(row)
    visit.queue, visit.patient, visit.issued_by = queue, patient, issued_by
    visit.desk, visit.called_by = desk, called_by
    return visit
