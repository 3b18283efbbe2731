"""The daily report's figures, per doctor and in total."""

import datetime

import pytest
from django.utils import timezone

from tests.tokens.conftest import at, make_patients, make_slot
from tokens import reports, services
from tokens.models import Category, Token


@pytest.mark.django_db
def test_the_daily_report_counts_each_doctor_and_the_total(doctor):
    other = services.create_doctor(name="Dr. Zafar", specialization="ENT")
    morning = make_slot(doctor, at(9), capacity=2)
    noon = make_slot(doctor, at(12), capacity=2)
    ent = make_slot(other, at(9), capacity=4)
    make_slot(other, at(9, days=2))  # another day: not in the report
    cancelled = make_slot(other, at(15))
    services.cancel_slot(slot_id=cancelled.pk)
    p = make_patients(8)
    done = services.book_token(slot_id=morning.pk, patient=p[0], category=Category.ONLINE)
    gone = services.book_token(slot_id=morning.pk, patient=p[1], category=Category.WALKIN)
    services.book_token(slot_id=morning.pk, patient=p[2], category=Category.WALKIN)  # waits, then promoted
    services.book_token(slot_id=morning.pk, patient=p[3], category=Category.WALKIN)  # waits
    services.book_token(slot_id=noon.pk, patient=p[4], category=Category.EMERGENCY)
    absent = services.book_token(slot_id=ent.pk, patient=p[5], category=Category.FOLLOWUP)
    services.book_token(slot_id=ent.pk, patient=p[6], category=Category.PRIORITY_PAID)
    services.cancel_token(token_id=gone.pk)
    services.mark_no_show(token_id=absent.pk)
    services.complete_token(token_id=done.pk)
    Token.objects.filter(pk=done.pk).update(actual_time=done.created_at + datetime.timedelta(minutes=42))
    services.delay_slot(slot_id=noon.pk, delay_minutes=20)

    report = reports.daily_report(day=at(9).date())
    khan, zafar = report["doctors"]
    assert khan["doctor_name"] == "Dr. Ayesha Khan" and zafar["doctor_name"] == "Dr. Zafar"
    assert {k: khan[k] for k in ["slots", "capacity", "confirmed", "completed", "cancelled", "no_shows",
                                  "emergencies", "waiting"]} == {
        "slots": 2, "capacity": 4, "confirmed": 2, "completed": 1, "cancelled": 1, "no_shows": 0, "emergencies": 1,
        "waiting": 1}
    assert (khan["utilisation_pct"], khan["no_show_rate_pct"]) == (75.0, 0.0)
    assert (khan["mean_delay_minutes"], khan["mean_wait_minutes"]) == (10.0, 42.0)
    assert (zafar["slots"], zafar["capacity"], zafar["confirmed"], zafar["no_shows"]) == (1, 4, 1, 1)
    assert (zafar["utilisation_pct"], zafar["no_show_rate_pct"], zafar["mean_wait_minutes"]) == (25.0, 50.0, None)
    total = report["total"]
    assert (total["slots"], total["capacity"], total["confirmed"], total["waiting"]) == (3, 8, 3, 1)
    assert (total["utilisation_pct"], total["no_show_rate_pct"]) == (50.0, 20.0)
    assert total["mean_delay_minutes"] == pytest.approx(6.7)
    assert report["categories"] == {"EMERGENCY": 1, "PRIORITY_PAID": 1, "FOLLOWUP": 1, "ONLINE": 1, "WALKIN": 2}
    assert report["tokens_per_hour"] == [{"hour": 9, "count": 5}, {"hour": 12, "count": 1}]

    only = reports.daily_report(day=at(9).date(), doctor=other)
    assert [row["doctor_name"] for row in only["doctors"]] == ["Dr. Zafar"] and only["total"]["slots"] == 1


@pytest.mark.django_db
def test_an_empty_day_reports_zeros_and_no_rates():
    report = reports.daily_report(day=timezone.localdate())
    assert report["doctors"] == []
    assert report["total"]["capacity"] == 0 and report["total"]["utilisation_pct"] is None


@pytest.mark.django_db
def test_the_report_csv_quotes_a_doctor_name_a_spreadsheet_would_run():
    doctor = services.create_doctor(name="=HYPERLINK(\"http://x\")", specialization="+ENT")
    make_slot(doctor, at(9))
    text = reports.report_csv(reports.daily_report(day=timezone.localdate() + datetime.timedelta(days=1)))
    assert "'=HYPERLINK" in text and "'+ENT" in text
