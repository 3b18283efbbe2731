"""Seed 000's number change: old `xx-xx-xxx` MRNs become `xxx-xx-xxx` by prepending a zero (`01-00-001` ->
`001-00-001`), and the MRN counter moves past the highest number present so none is issued twice.

Backwards strips the zero again, refusing while any number is `100-00-000` or above (the old format cannot show
it). The counter is never moved back: numbers it has passed stay unissued.
"""

from django.db import migrations
from django.db.migrations.exceptions import IrreversibleError
from django.db.models import F, Max, Value
from django.db.models.functions import Concat, Substr

from idseq.formats import GROUPED_PATTERN, LEGACY_PATTERN, parse_grouped

MRN_COUNTER = "mrn"  # the MRN sequence and its counter (patients.services.MRN_COUNTER) when this was written
FIRST_BEYOND_LEGACY = "100-00-000"


def history_and_patients(apps):
    return [apps.get_model("patients", "Patient"), apps.get_model("patients", "HistoricalPatient")]


def to_grouped(apps, schema_editor):
    for model in history_and_patients(apps):
        model.objects.filter(mrn__regex=LEGACY_PATTERN).update(mrn=Concat(Value("0"), F("mrn")))
    Patient = apps.get_model("patients", "Patient")
    highest = Patient.objects.filter(mrn__regex=GROUPED_PATTERN).aggregate(highest=Max("mrn"))["highest"]
    if highest is None:
        return
    # What idseq.services.advance_past did when this was written (live code is not used in migrations): lock the `mrn` sequence's
    # counter, only ever move it up, and record the values passed as issued before the ledger existed, so that
    # idseq_check stays clean.
    Sequence = apps.get_model("idseq", "Sequence")
    Counter = apps.get_model("idseq", "Counter")
    sequence = Sequence.objects.get(key=MRN_COUNTER)
    Counter.objects.get_or_create(
        key=MRN_COUNTER, defaults={"last_value": sequence.start_value - 1, "sequence": sequence, "scope": ""}
    )
    counter = Counter.objects.select_for_update().get(key=MRN_COUNTER)
    value = parse_grouped(highest)
    if value > counter.last_value:
        apps.get_model("idseq", "UnrecordedRange").objects.create(
            sequence=sequence,
            scope="",
            first_value=max(counter.last_value + 1, sequence.start_value),
            last_value=value,
            reason="before_ledger",
        )
        counter.last_value = value
        counter.save(update_fields=["last_value"])


def to_legacy(apps, schema_editor):
    Patient = apps.get_model("patients", "Patient")
    beyond = Patient.objects.filter(mrn__regex=GROUPED_PATTERN, mrn__gte=FIRST_BEYOND_LEGACY).order_by("mrn")
    if beyond.exists():
        raise IrreversibleError(
            f"Cannot go back to xx-xx-xxx numbers: {beyond.count()} patient(s) have numbers from {FIRST_BEYOND_LEGACY}"
            f" up (the first is {beyond.first().mrn}), which the old format cannot show."
        )
    for model in history_and_patients(apps):
        model.objects.filter(mrn__regex=GROUPED_PATTERN).update(mrn=Substr(F("mrn"), 2))


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0004_search_history_duplicates"),
        ("idseq", "0003_initial_sequences"),
    ]

    operations = [migrations.RunPython(to_grouped, to_legacy)]
