"""One MRN space for the life of a hospital, simulated: a million online registrations fast-forwarded by
moving the counter (the values passed recorded as a reset would), with seed 001's ranges and a pool reserved in the
same sequence. Online numbering steps over every reservation, no number value belongs to two patients, and the pool
keeps serving terminals after an import of high numbers."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db.models import Count

from idseq.exceptions import ReservedValue
from idseq.formats import format_grouped
from idseq.models import Counter, Sequence, UnrecordedRange
from patients.models import Patient
from patients.services import import_patients, register_patient
from terminals import services
from terminals.models import LabTerminal
from tests.terminals.conftest import PATIENT, hand_out_up_to

pytestmark = pytest.mark.django_db


def fast_forward(to: int) -> None:
    """Pretend every value up to `to` was registered online: move the counter, record the values passed."""
    counter = Counter.objects.get(key="mrn")
    UnrecordedRange.objects.create(sequence=Sequence.objects.get(key="mrn"), first_value=counter.last_value + 1,
                                   last_value=to, reason=UnrecordedRange.Reasons.RESET)
    Counter.objects.filter(pk=counter.pk).update(last_value=to)


def online(count: int) -> list[int]:
    return [Patient.objects.get(mrn=register_patient(full_name="Online").mrn).mrn_value for _ in range(count)]


def test_a_million_registrations_step_over_every_reservation_and_the_pool_outlives_an_import(lab1, settings):
    settings.TOKENLINE_OFFLINE_POOL = "800000-899999"
    services.pool_reservations()  # as after every migrate
    assert online(1) == [100_001]
    terminal = LabTerminal.objects.get(code="LAB1-PC")
    services.lease_block(terminal_code="LAB1-PC", user=terminal.user, count=50)
    offline = services.register_offline(terminal_code="LAB1-PC", user=terminal.user, mrn="710042", **PATIENT)
    assert offline.patient.mrn == "007-10-042"

    fast_forward(709_995)  # ~610,000 registrations
    assert online(6) == [709_996, 709_997, 709_998, 709_999, 750_000, 750_001]  # 710000-749999: seed 001's ranges
    fast_forward(799_998)
    assert online(3) == [799_999, 900_000, 900_001]  # 800000-899999: the pool
    fast_forward(1_099_999)  # a million online registrations
    assert online(1) == [1_100_000]

    # An earlier system's records with high numbers: reserved where they are, the counter stays.
    high = [Patient(mrn=format_grouped(value), full_name="Imported") for value in range(5_000_000, 5_000_100)]
    import_patients(patients=high)
    with pytest.raises(ReservedValue, match="reserved for offline pool"):
        import_patients(patients=[Patient(mrn=format_grouped(850_000), full_name="Into the pool")])
    assert online(1) == [1_100_001]

    # LAB1-PC passes 90 %: the pool still has blocks, whatever the counter and the import did.
    hand_out_up_to(718_999, terminal=terminal)
    services.lease_block(terminal_code="LAB1-PC", user=terminal.user, count=1)
    added = terminal.ranges.get(from_pool=True)
    assert (added.start, added.end) == (800_000, 809_999)
    services.lease_block(terminal_code="LAB1-PC", user=terminal.user, count=1_000)  # the rest of 710000-719999
    lease = services.lease_block(terminal_code="LAB1-PC", user=terminal.user, count=5)
    assert (lease.start, lease.end) == (800_000, 800_004)
    synced = services.register_offline(terminal_code="LAB1-PC", user=terminal.user, mrn="800003", **PATIENT)
    assert synced.patient.mrn == "008-00-003"

    values = Patient.objects.values("mrn_value").annotate(n=Count("id")).filter(n__gt=1)
    assert not values.exists() and not Patient.objects.filter(mrn_value__isnull=True).exists()
    call_command("idseq_check", stdout=io.StringIO())


def test_a_new_range_over_a_carried_over_number_is_refused_naming_its_owner(db):
    register_patient(full_name="Paper card", mrn="009-50-000")
    terminal = LabTerminal.objects.create(code="LAB3-PC", name="Lab 3")
    with pytest.raises(ValidationError, match="950000-950000, reserved for carried over"):
        services.add_range(terminal=terminal, start=940_000, end=959_999)
    assert services.add_range(terminal=terminal, start=960_000, end=969_999).reservation.owner == "LAB3-PC"
