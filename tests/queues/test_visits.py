"""Issuing tokens and the steps of a visit, through the services (seeds 000 and 003)."""

import datetime
import logging

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from patients.models import Patient
from queues import selectors, services
from queues.exceptions import ActionNotAllowed, DeskBusy, NobodyWaiting, OpenVisitExists, QueueInactive
from queues.models import Visit
from tests.queues.conftest import make_desk, make_patients

S = Visit.Status


def waiting_tokens(queue):
    return [v.token for v in selectors.waiting_line(queue_ids=[queue.pk], visit_date=timezone.localdate())]


def test_tokens_count_from_1_per_queue_and_print_with_the_queue_code(general, lab, asst):
    a, b = make_patients(2)
    visits = [
        services.issue_visit(patient=a, queue=general, issued_by=asst),
        services.issue_visit(patient=b, queue=general, issued_by=asst),
        services.issue_visit(patient=a, queue=lab, issued_by=asst),
    ]
    assert [(v.token_number, v.token) for v in visits] == [(1, "GEN-001"), (2, "GEN-002"), (1, "LAB-001")]
    assert all(v.visit_date == timezone.localdate() and v.status == S.WAITING for v in visits)
    assert visits[0].issued_by == asst


def test_issuing_logs_the_seed_line_exactly_after_commit(general, asst, caplog, django_capture_on_commit_callbacks):
    patient = Patient.objects.create(mrn="001-23-456", full_name="Seed Patient")
    with caplog.at_level(logging.INFO, logger="tokenline.queues"):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            services.issue_visit(patient=patient, queue=general, issued_by=asst)
        assert not [r for r in caplog.records if r.name == "tokenline.queues"]  # nothing before commit
        for callback in callbacks:
            callback()
    lines = [r.getMessage() for r in caplog.records if r.name == "tokenline.queues"]
    assert lines == ["Visit created: Token 1 for patient 001-23-456 in queue General by user asst"]


def test_a_second_open_visit_in_the_same_queue_is_refused_and_takes_no_token(general, lab, asst):
    a, b = make_patients(2)
    services.issue_visit(patient=a, queue=general)
    with pytest.raises(OpenVisitExists, match="already holds token GEN-001 \\(waiting\\) in General"):
        services.issue_visit(patient=a, queue=general)
    assert services.issue_visit(patient=b, queue=general).token_number == 2
    assert services.issue_visit(patient=a, queue=lab).token == "LAB-001"  # other queues are fine


def test_a_completed_or_cancelled_visit_lets_the_patient_queue_again(general):
    (a,) = make_patients(1)
    first = services.issue_visit(patient=a, queue=general)
    services.cancel_visit(visit=first)
    assert services.issue_visit(patient=a, queue=general).token_number == 2


def test_an_inactive_queue_or_patient_gets_no_token(general):
    a, b = make_patients(2)
    general.is_active = False
    general.save()
    with pytest.raises(QueueInactive):
        services.issue_visit(patient=a, queue=general)
    general.is_active = True
    general.save()
    b.is_active = False
    b.save()
    with pytest.raises(ActionNotAllowed, match="inactive"):
        services.issue_visit(patient=b, queue=general)
    assert services.issue_visit(patient=a, queue=general).token_number == 1


def test_high_priority_is_called_first_then_token_order(general):
    desk = make_desk("Room 1", general)
    patients = make_patients(4)
    for patient, priority in zip(patients, ["low", "medium", "high", "medium"]):
        services.issue_visit(patient=patient, queue=general, priority=priority)
    assert waiting_tokens(general) == ["GEN-003", "GEN-002", "GEN-004", "GEN-001"]
    called = []
    for _ in range(4):
        visit = services.call_next(desk=desk)
        called.append(visit.token)
        services.mark_no_show(visit=visit)
    assert called == ["GEN-003", "GEN-002", "GEN-004", "GEN-001"]


def test_call_next_never_completes_the_previous_patient(general):
    desk = make_desk("Room 1", general)
    a, b = make_patients(2)
    services.issue_visit(patient=a, queue=general)
    services.issue_visit(patient=b, queue=general)
    first = services.call_next(desk=desk)
    services.start_visit(visit=first)
    with pytest.raises(DeskBusy, match=r"GEN-001 \(in consultation\): complete it or mark it no-show first"):
        services.call_next(desk=desk)
    first.refresh_from_db()
    assert first.status == S.IN_CONSULTATION
    services.complete_visit(visit=first)
    assert services.call_next(desk=desk).token == "GEN-002"
    with pytest.raises(DeskBusy):
        services.call_next(desk=desk)


def test_call_next_on_an_empty_line_says_nobody_is_waiting(general):
    with pytest.raises(NobodyWaiting):
        services.call_next(desk=make_desk("Room 1", general))


def test_each_step_is_explicit_and_records_when_and_who(general, asst):
    desk = make_desk("Room 1", general)
    (a,) = make_patients(1)
    visit = services.issue_visit(patient=a, queue=general, issued_by=asst)
    visit = services.call_next(desk=desk, called_by=asst)
    assert (visit.status, visit.desk, visit.called_by) == (S.CALLED, desk, asst)
    visit = services.start_visit(visit=visit, started_by=asst)
    visit = services.complete_visit(visit=visit, completed_by=asst)
    assert visit.status == S.COMPLETED
    assert visit.issued_at <= visit.called_at <= visit.started_at <= visit.completed_at
    assert (visit.started_by, visit.completed_by) == (asst, asst)


@pytest.mark.parametrize(
    "steps, action, message",
    [
        ([], services.complete_visit, "Visit GEN-001 cannot be completed: it is waiting"),
        ([], services.start_visit, "Visit GEN-001 cannot be started: it is waiting"),
        ([], services.recall_visit, "Visit GEN-001 cannot be recalled: it is waiting"),
        (["cancel"], services.mark_no_show, "Visit GEN-001 cannot be marked no-show: it is cancelled"),
        (["cancel"], services.cancel_visit, "it is cancelled"),
        (["call", "start"], services.cancel_visit, "it is in consultation"),
        (["call", "start", "complete"], services.start_visit, "it is completed"),
    ],
)
def test_a_step_not_allowed_in_the_status_names_the_status_and_changes_nothing(general, steps, action, message):
    desk = make_desk("Room 1", general)
    (a,) = make_patients(1)
    visit = services.issue_visit(patient=a, queue=general)
    run = {
        "cancel": lambda: services.cancel_visit(visit=visit),
        "call": lambda: services.call_next(desk=desk),
        "start": lambda: services.start_visit(visit=visit),
        "complete": lambda: services.complete_visit(visit=visit),
    }
    for step in steps:
        run[step]()
    before = Visit.objects.values().get(pk=visit.pk)
    with pytest.raises(ActionNotAllowed, match=message):
        action(visit=visit)
    assert Visit.objects.values().get(pk=visit.pk) == before


def test_a_recalled_no_show_keeps_its_token_and_goes_after_those_already_waiting(general):
    desk = make_desk("Room 1", general)
    patients = make_patients(5)
    for patient, priority in zip(patients, ["medium", "medium", "medium", "high", "low"]):
        services.issue_visit(patient=patient, queue=general, priority=priority)
    first = services.call_next(desk=desk)  # GEN-004, high
    services.mark_no_show(visit=first)
    second = services.call_next(desk=desk)  # GEN-001
    services.mark_no_show(visit=second)
    assert waiting_tokens(general) == ["GEN-002", "GEN-003", "GEN-005"]
    services.recall_visit(visit=second)
    services.recall_visit(visit=first)
    assert waiting_tokens(general) == ["GEN-004", "GEN-002", "GEN-003", "GEN-001", "GEN-005"]
    recalled = Visit.objects.get(pk=second.pk)
    assert (recalled.token_number, recalled.desk, recalled.called_at) == (1, None, None)
    assert recalled.no_show_at is not None and recalled.recalled_at is not None


def test_transfer_gives_a_new_token_in_the_other_queue_linked_to_the_original(general, lab, asst):
    desk = make_desk("Room 1", general)
    a, b = make_patients(2)
    services.issue_visit(patient=b, queue=lab)
    visit = services.issue_visit(patient=a, queue=general, priority="high")
    services.start_visit(visit=services.call_next(desk=desk))
    new = services.transfer_visit(visit=visit, to_queue=lab, transferred_by=asst)
    visit.refresh_from_db()
    assert (new.token, new.status, new.priority, new.transferred_from) == ("LAB-002", S.WAITING, "high", visit)
    assert (visit.status, visit.transferred_by) == (S.TRANSFERRED, asst)
    assert visit.transferred_to == new
    assert waiting_tokens(lab) == ["LAB-002", "LAB-001"]
    services.issue_visit(patient=b, queue=general)
    assert services.call_next(desk=desk).patient == b  # the transfer freed the desk


def test_a_failed_transfer_writes_nothing(general, lab):
    a, b = make_patients(2)
    services.issue_visit(patient=a, queue=lab)
    visit = services.issue_visit(patient=a, queue=general)
    with pytest.raises(OpenVisitExists, match="LAB-001"):
        services.transfer_visit(visit=visit, to_queue=lab)
    with pytest.raises(ActionNotAllowed, match="already in General"):
        services.transfer_visit(visit=visit, to_queue=general)
    visit.refresh_from_db()
    assert visit.status == S.WAITING
    assert services.issue_visit(patient=b, queue=lab).token == "LAB-002"


def test_tokens_restart_at_1_the_next_day_without_touching_yesterday(general, monkeypatch):
    a, b = make_patients(2)
    yesterday = [services.issue_visit(patient=p, queue=general) for p in (a, b)]
    tomorrow = timezone.now() + datetime.timedelta(days=1)
    monkeypatch.setattr(timezone, "now", lambda: tomorrow)
    today = services.issue_visit(patient=a, queue=general)
    assert (today.token_number, today.visit_date) == (1, yesterday[0].visit_date + datetime.timedelta(days=1))
    assert [(v.token_number, v.status) for v in Visit.objects.filter(visit_date=yesterday[0].visit_date)] == [
        (1, S.WAITING), (2, S.WAITING)
    ]
    with pytest.raises(ActionNotAllowed, match="belongs to"):
        services.recall_visit(visit=yesterday[0])


def test_the_day_is_the_hospitals_not_utc(general, monkeypatch, settings):
    settings.TIME_ZONE = "Asia/Karachi"
    (a,) = make_patients(1)
    late_utc = datetime.datetime(2026, 3, 1, 20, 30, tzinfo=datetime.timezone.utc)  # 01:30 on 2 March in Karachi
    monkeypatch.setattr(timezone, "now", lambda: late_utc)
    assert services.issue_visit(patient=a, queue=general).visit_date == datetime.date(2026, 3, 2)


def test_waiting_visits_carry_position_and_estimated_wait(general):
    make_desk("Room 1", general)
    make_desk("Room 2", general)
    patients = make_patients(5)
    visits = [services.issue_visit(patient=p, queue=general) for p in patients]
    shown = selectors.with_positions(Visit.objects.filter(pk__in=[v.pk for v in visits]).order_by("token_number"))
    # default 10 minutes a patient, two desks: 0, 5, 10, 15, 20 minutes for positions 1..5
    assert [(v.position, v.estimated_wait_minutes) for v in shown] == [(1, 0), (2, 5), (3, 10), (4, 15), (5, 20)]


def test_the_estimate_uses_todays_median_once_five_visits_are_completed(general):
    desk = make_desk("Room 1", general)
    patients = make_patients(7)
    for patient in patients:
        services.issue_visit(patient=patient, queue=general)
    for minutes in [2, 4, 4, 30, 3]:
        visit = services.start_visit(visit=services.call_next(desk=desk))
        services.complete_visit(visit=visit)
        Visit.objects.filter(pk=visit.pk).update(completed_at=visit.started_at + datetime.timedelta(minutes=minutes))
    assert selectors.service_minutes(queue=general, visit_date=timezone.localdate()) == 4
    last = selectors.with_positions(Visit.objects.filter(status=S.WAITING).order_by("token_number"))[-1]
    assert (last.position, last.estimated_wait_minutes) == (2, 4)


def test_positions_are_derived_so_no_step_rewrites_other_visits(general):
    desk = make_desk("Room 1", general)
    for patient in make_patients(30):
        services.issue_visit(patient=patient, queue=general)
    before = {v.pk: v.updated_at for v in Visit.objects.all()}
    visit = services.call_next(desk=desk)
    after = {v.pk: v.updated_at for v in Visit.objects.all()}
    assert [pk for pk in before if before[pk] != after[pk]] == [visit.pk]
    assert [v.position for v in selectors.waiting_line(queue_ids=[general.pk], visit_date=visit.visit_date)] == list(
        range(1, 30)
    )


@pytest.mark.parametrize(
    "change",
    [
        {"token_number": 0},  # tokens start at 1
        {"token_number": 2},  # GEN-002 exists already
        {"status": "completed"},  # never started
        {"status": "called"},  # no desk, no call time
        {"status": "no_show"},  # never called
        {"status": "lost"},  # not a status
    ],
)
def test_the_database_refuses_visits_that_break_the_rules(general, change):
    a, b = make_patients(2)
    first = services.issue_visit(patient=a, queue=general)
    services.issue_visit(patient=b, queue=general)
    with pytest.raises(IntegrityError), transaction.atomic():
        Visit.objects.filter(pk=first.pk).update(**change)


def test_the_database_keeps_one_open_visit_per_patient_and_one_patient_per_desk(general):
    desk = make_desk("Room 1", general)
    a, b = make_patients(2)
    first = services.issue_visit(patient=a, queue=general)
    second = services.issue_visit(patient=b, queue=general)
    with pytest.raises(IntegrityError), transaction.atomic():
        Visit.objects.create(patient=a, queue=general, visit_date=first.visit_date, token_number=3,
                             queued_at=first.queued_at)
    services.call_next(desk=desk)
    with pytest.raises(IntegrityError), transaction.atomic():
        Visit.objects.filter(pk=second.pk).update(status="called", desk=desk, called_at=first.queued_at)
