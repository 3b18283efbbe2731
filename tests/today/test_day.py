"""The manager's day: its figures (in the browser, the CSV and /metrics) equal those computed here from the visits
and tokens the test creates, with the clock frozen at 14:00 in Karachi."""

import csv
import datetime
import io
import os
import re
import statistics
import subprocess
import sys
import zoneinfo

import pytest
import time_machine
from django.conf import settings as django_settings
from django.test import Client

from patients.services import register_patient
from queues import services as queue_services
from queues.models import Queue, Visit
from tests.conftest import browser_context, make_user
from tests.monitoring.conftest import scrape, value
from tests.queues.conftest import make_desk
from tokens import services as token_services
from tokens.models import Token

KARACHI = zoneinfo.ZoneInfo("Asia/Karachi")
NOW = datetime.datetime(2026, 12, 10, 14, 0, tzinfo=KARACHI)
TARGET, ALERT = 30, 60

# Walk-in visits: (queue, desk, joined the line at, minutes waited until called, minutes of consultation, status).
# A None wait: still waiting.
VISITS = [
    ("GEN", "Room 1", "09:00", 5, 10, "completed"),
    ("GEN", "Room 2", "09:02", 12, 8, "completed"),
    ("GEN", "Room 1", "09:05", 25, 10, "completed"),
    ("GEN", "Room 2", "09:10", 31, None, "no_show"),
    ("GEN", "Room 1", "09:15", 40, 12, "completed"),
    ("GEN", "Room 2", "09:20", 44, 5, "completed"),
    ("GEN", "Room 1", "09:30", 50, None, "in_consultation"),
    ("GEN", None, "12:00", None, None, "waiting"),
    ("GEN", None, "13:30", None, None, "waiting"),
    ("LAB", "Room 3", "09:00", 3, 4, "completed"),
    ("LAB", None, "13:50", None, None, "waiting"),
]
# OPD tokens of one slot 10:00-16:00, booked the day before: (called at, completed at, status).
# OPD tokens of one slot from 10:00: (checked in, called, completed, status); a wait starts at the slot's start or at
# the patient's arrival, whichever is later.
TOKENS = [("09:50", "10:05", "10:15", "COMPLETED"), ("10:12", "10:20", "10:35", "COMPLETED"),
          (None, "10:40", None, "NO_SHOW"), (None, None, None, "CONFIRMED")]


def at(clock: str) -> datetime.datetime:
    hour, minute = map(int, clock.split(":"))
    return NOW.replace(hour=hour, minute=minute)


def plus(moment: datetime.datetime, minutes: float) -> datetime.datetime:
    return moment + datetime.timedelta(minutes=minutes)


@pytest.fixture
def frozen(settings):
    settings.DAY_WAIT_TARGET_MINUTES, settings.DAY_WAIT_ALERT_MINUTES = TARGET, ALERT
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def the_day(frozen):
    """The visits and tokens of the tables above, written with their times."""
    queues = {"GEN": Queue.objects.create(name="General", code="GEN"),
              "LAB": Queue.objects.create(name="Laboratory", code="LAB")}
    desks = {"Room 1": make_desk("Room 1", queues["GEN"]), "Room 2": make_desk("Room 2", queues["GEN"]),
             "Room 3": make_desk("Room 3", queues["LAB"])}
    for i, (code, desk, joined, wait, service, status) in enumerate(VISITS):
        visit = queue_services.issue_visit(patient=register_patient(full_name=f"Walk In {i}"), queue=queues[code])
        times = {"queued_at": at(joined)}
        if wait is not None:
            called = plus(at(joined), wait)
            times.update(desk=desks[desk], called_at=called)
            if status == "no_show":
                times["no_show_at"] = plus(called, 5)
            else:
                times["started_at"] = called
            if service is not None:
                times["completed_at"] = plus(called, service)
        Visit.objects.filter(pk=visit.pk).update(status=status, **times)
    doctor = token_services.create_doctor(name="Dr. Ayesha Khan")
    slot = token_services.create_slot(doctor=doctor, start_time=at("10:00"), end_time=at("16:00"), max_capacity=10)
    for i, (arrived, called, completed, status) in enumerate(TOKENS):
        token = token_services.book_token(slot_id=slot.pk, patient=register_patient(full_name=f"Booked {i}"),
                                          category="ONLINE")
        Token.objects.filter(pk=token.pk).update(
            created_at=at("10:00") - datetime.timedelta(days=1), status=status,
            called_at=called and at(called), actual_time=completed and at(completed),
            checked_in_at=arrived and at(arrived),
        )


def figures(waits: list[float], completed_spans: list[tuple[datetime.datetime, datetime.datetime]], calls) -> dict:
    """Expected figures, computed with the statistics module: p50 and p90 (inclusive quantiles), the share within
    TARGET, and completions per hour from the first call to the last completion."""
    expected = {"called": len(waits), "completed": len(completed_spans)}
    if len(waits) >= 2:
        deciles = statistics.quantiles(waits, n=10, method="inclusive")
        expected["wait_p50_minutes"], expected["wait_p90_minutes"] = round(deciles[4], 1), round(deciles[8], 1)
    else:
        expected["wait_p50_minutes"] = expected["wait_p90_minutes"] = float(waits[0])
    expected["within_target_percent"] = round(100 * len([w for w in waits if w <= TARGET]) / len(waits), 1)
    hours = (max(end for _, end in completed_spans) - min(calls)).total_seconds() / 3600
    expected["per_hour"] = round(len(completed_spans) / hours, 1)
    return expected


def expected_queue(code: str) -> dict:
    rows = [row for row in VISITS if row[0] == code]
    waits = [wait for *_, wait, _, _ in rows if wait is not None]
    spans = [(plus(at(j), w), plus(at(j), w + s)) for _, _, j, w, s, status in rows if status == "completed"]
    calls = [plus(at(j), w) for _, _, j, w, _, _ in rows if w is not None]
    waiting = [at(j) for _, _, j, _, _, status in rows if status == "waiting"]
    result = figures(waits, spans, calls)
    result.update(waiting=len(waiting), no_shows=sum(row[5] == "no_show" for row in rows),
                  oldest_waiting_minutes=(NOW - min(waiting)).total_seconds() / 60)
    return result


def expected_desk(name: str) -> dict:
    rows = [row for row in VISITS if row[1] == name]
    spans = [(plus(at(j), w), plus(at(j), w + s)) for _, _, j, w, s, status in rows if status == "completed"]
    result = figures([row[3] for row in rows], spans, [plus(at(row[2]), row[3]) for row in rows])
    result["no_shows"] = sum(row[5] == "no_show" for row in rows)
    return result


def expected_doctor() -> dict:
    waits = [(at(called) - max(at("10:00"), at(arrived or "10:00"))).total_seconds() / 60
             for arrived, called, _, _ in TOKENS if called]
    spans = [(at(called), at(done)) for _, called, done, _ in TOKENS if done]
    result = figures(waits, spans, [at(called) for _, called, _, _ in TOKENS if called])
    result.update(waiting=1, no_shows=1, oldest_waiting_minutes=(NOW - at("10:00")).total_seconds() / 60)
    return result


def close(shown: str, expected: float, *, within: float = 0.0) -> bool:
    return abs(float(shown) - expected) <= within + 1e-9


@pytest.mark.django_db(transaction=True)
def test_the_page_shows_the_figures_computed_from_the_visits(live_server, the_day):
    ops = make_user("ops1", "ops")
    with browser_context(live_server, ops) as context:
        page = context.new_page()
        page.goto("/today/")
        banner = page.locator("[data-testid=wait-alert]").inner_text()
        shown = {}
        for kind, name in (("queue", "General"), ("queue", "Laboratory"), ("desk", "Room 1"), ("desk", "Room 2"),
                           ("desk", "Room 3"), ("doctor", "Dr. Ayesha Khan")):
            cells = page.locator(f'[data-testid={kind}-table] tr[data-row="{name}"] td[data-col]')
            shown[name] = {cell.get_attribute("data-col"): cell.inner_text() for cell in cells.all()}
        marked = page.locator("tr.waited-too-long td:first-child").all_inner_texts()
        assert not context.blocked
    assert "General" in banner and "Dr. Ayesha Khan" in banner and "Laboratory" not in banner
    assert marked == ["General", "Dr. Ayesha Khan"]
    expectations = {"General": expected_queue("GEN"), "Laboratory": expected_queue("LAB"),
                    "Room 1": expected_desk("Room 1"), "Room 2": expected_desk("Room 2"),
                    "Room 3": expected_desk("Room 3"), "Dr. Ayesha Khan": expected_doctor()}
    for name, expected in expectations.items():
        assert set(expected) <= set(shown[name]), name
        for column, figure in expected.items():
            # The longest wait moves with the clock while the page loads: a minute's slack.
            slack = 1.0 if column == "oldest_waiting_minutes" else 0.0
            assert close(shown[name][column], figure, within=slack), (name, column, shown[name][column], figure)


@pytest.mark.django_db
def test_the_csv_has_the_same_figures(the_day):
    client = Client()
    client.force_login(make_user("ops1", "ops"))
    response = client.get("/today.csv")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="today-2026-12-10.csv"'
    rows = {(row["kind"], row["name"]): row for row in csv.DictReader(io.StringIO(response.content.decode()))}
    assert set(rows) == {("queue", "General"), ("queue", "Laboratory"), ("doctor", "Dr. Ayesha Khan"),
                         ("desk", "Room 1"), ("desk", "Room 2"), ("desk", "Room 3")}
    for key, expected in ((("queue", "General"), expected_queue("GEN")), (("desk", "Room 1"), expected_desk("Room 1")),
                          (("doctor", "Dr. Ayesha Khan"), expected_doctor())):
        for column, figure in expected.items():
            slack = 1.0 if column == "oldest_waiting_minutes" else 0.0
            assert close(rows[key][column], figure, within=slack), (key, column)


@pytest.mark.django_db
def test_metrics_raise_the_alert_for_the_queue_and_the_doctor_past_the_threshold(the_day):
    samples = scrape(Client())
    assert value(samples, "tokenline_queue_wait_alert", queue="GEN") == 1
    assert value(samples, "tokenline_queue_wait_alert", queue="LAB") == 0
    assert 119 <= value(samples, "tokenline_queue_oldest_waiting_minutes", queue="GEN") <= 121
    assert value(samples, "tokenline_opd_wait_alert", doctor="Dr. Ayesha Khan") == 1
    assert 239 <= value(samples, "tokenline_opd_oldest_waiting_minutes", doctor="Dr. Ayesha Khan") <= 241
    assert value(samples, "tokenline_wait_alert_threshold_minutes") == ALERT


@pytest.mark.django_db
def test_only_roles_that_steer_the_day_open_it(frozen):
    for role, status in (("reception", 403), ("ops", 200), ("admin", 200), ("doctor", 403)):
        client = Client()
        client.force_login(make_user(f"user-{role}", role))
        assert client.get("/today/").status_code == status, role
        assert client.get("/today.csv").status_code == status, role
    assert Client().get("/today/").status_code == 302


@pytest.mark.django_db
def test_an_empty_day_shows_no_alert_and_no_figures(frozen):
    client = Client()
    client.force_login(make_user("ops1", "ops"))
    page = client.get("/today/").content.decode()
    assert "wait-alert" not in page and "No OPD slots today." in page


@pytest.mark.django_db
def test_the_page_speaks_urdu(the_day):
    client = Client()
    client.force_login(make_user("ops1", "ops"))
    page = client.get("/today/", HTTP_ACCEPT_LANGUAGE="ur").content.decode()
    assert "واک اِن قطاریں" in page and "60 منٹ سے زیادہ انتظار:" in page
    assert re.search(r"General: 12[01]\.\d منٹ", page)


@pytest.mark.parametrize("name, value, problem", [
    ("DAY_WAIT_TARGET_MINUTES", "0", "DAY_WAIT_TARGET_MINUTES must be from 1 to 480, not 0."),
    ("DAY_WAIT_ALERT_MINUTES", "721", "DAY_WAIT_ALERT_MINUTES must be from 1 to 720, not 721."),
    ("REMINDER_BEFORE_MINUTES", "-5", "REMINDER_BEFORE_MINUTES must be from 1 to 1440, not -5."),
    ("REMINDER_VISIT_AHEAD", "0", "REMINDER_VISIT_AHEAD must be from 1 to 50, not 0."),
    ("REMINDER_EVENING_AT", "25:00", "REMINDER_EVENING_AT must be a time HH:MM, not '25:00'."),
])
def test_a_target_threshold_or_reminder_setting_out_of_bounds_stops_startup(name, value, problem):
    env = {**os.environ, "DEBUG": "true", "SECRET_KEY": "x" * 50, name: value}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=django_settings.BASE_DIR, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and problem in result.stderr, result.stderr[-2000:]
