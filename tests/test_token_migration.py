"""Migrations idseq 0008-0009, queues 0004 and tokens 0004: an upgraded database's visit and slot
token counters become counters of the `visit-token` and `slot-token` sequences, every existing token gets its ledger
row, values nobody holds are recorded as issued before the ledger, and the numbering goes on where it was; going
back puts the old counters back as they were."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from idseq.models import Counter, IssuedNumber, Sequence, UnrecordedRange
from patients.services import register_patient
from queues.models import Queue
from queues.services import issue_visit
from tests.conftest import migrate

BEFORE = [("idseq", "0007_reservations"), ("queues", "0003_visit_announced_at"), ("tokens", "0003_room_calls")]


@pytest.fixture
def before(transactional_db):
    apps = migrate(*BEFORE)
    yield apps
    migrate()


def make_old_tokens(apps, today: datetime.date) -> str:
    """GEN's tokens 1, 2, 4 today (counter at 5) and 1 yesterday, LAB's token 1 today without a counter (as a
    hand-made row would be), and a slot's tokens 1 and 2 (counter at 2), as the bare counters issued them. Returns
    the slot's id."""
    model = apps.get_model
    patients = [model("patients", "Patient").objects.create(mrn=f"900-00-00{n}", full_name="Old") for n in range(5)]
    patient = patients[0]
    gen = model("queues", "Queue").objects.create(name="General", code="GEN")
    lab = model("queues", "Queue").objects.create(name="Laboratory", code="LAB")
    yesterday = today - datetime.timedelta(days=1)
    now = timezone.now()
    visits = ((gen, today, 1), (gen, today, 2), (gen, today, 4), (gen, yesterday, 1), (lab, today, 1))
    for patient, (queue, day, number) in zip(patients, visits):
        model("queues", "Visit").objects.create(patient=patient, queue=queue, visit_date=day, token_number=number,
                                                queued_at=now)
    doctor = model("tokens", "Doctor").objects.create(name="Dr. Old")
    start = now + datetime.timedelta(days=1)
    slot = model("tokens", "Slot").objects.create(doctor=doctor, start_time=start,
                                                  end_time=start + datetime.timedelta(hours=1), max_capacity=5)
    for number in (1, 2):
        model("tokens", "Token").objects.create(slot=slot, patient=patient, doctor=doctor, day=start.date(),
                                                token_number=number, category="WALKIN", priority=2,
                                                status="CANCELLED")
    counters = {f"visit-token:GEN:{today}": 5, f"visit-token:GEN:{yesterday}": 1, f"slot-token:{slot.pk}": 2}
    model("idseq", "Counter").objects.bulk_create(
        model("idseq", "Counter")(key=key, last_value=last) for key, last in counters.items()
    )
    return str(slot.pk)


def test_old_token_counters_join_the_ledger_check_clean_go_on_and_go_back(before):
    today = timezone.localdate()
    slot = make_old_tokens(before, today)
    day, yesterday = f"{today:%Y%m%d}", f"{today - datetime.timedelta(days=1):%Y%m%d}"

    migrate()
    assert dict(Counter.objects.filter(sequence__key="visit-token").values_list("key", "last_value")) == {
        f"visit-token@GEN-{day}": 5, f"visit-token@GEN-{yesterday}": 1, f"visit-token@LAB-{day}": 1,
    }
    assert Counter.objects.get(sequence__key="slot-token").key == f"slot-token@{slot}"
    assert sorted(IssuedNumber.objects.values_list("formatted", flat=True)) == sorted([
        f"SLOT-{slot}-0001", f"SLOT-{slot}-0002", f"VT-GEN-{day}-0001", f"VT-GEN-{day}-0002", f"VT-GEN-{day}-0004",
        f"VT-GEN-{yesterday}-0001", f"VT-LAB-{day}-0001",
    ])
    for number in IssuedNumber.objects.select_related("sequence"):  # written in SQL exactly as idseq renders them
        assert number.sequence.id_format.render(number.value, number.scope) == number.formatted
    assert sorted(UnrecordedRange.objects.values_list("scope", "first_value", "last_value", "reason")) == [
        (f"GEN-{day}", 3, 3, "before_ledger"), (f"GEN-{day}", 5, 5, "before_ledger"),
    ]
    call_command("idseq_check", stdout=io.StringIO())
    visit = issue_visit(patient=register_patient(full_name="New"), queue=Queue.objects.get(code="GEN"))
    assert visit.token == "GEN-006"
    call_command("idseq_check", stdout=io.StringIO())

    migrate(*BEFORE)
    assert dict(before.get_model("idseq", "Counter").objects.exclude(key="mrn").values_list("key", "last_value")) == {
        f"visit-token:GEN:{today}": 6, f"visit-token:GEN:{today - datetime.timedelta(days=1)}": 1,
        f"visit-token:LAB:{today}": 1, f"slot-token:{slot}": 2,
    }
    assert not IssuedNumber.objects.exclude(sequence__key="mrn").exists()
    assert not Sequence.objects.filter(key__in=["visit-token", "slot-token"]).exists()
