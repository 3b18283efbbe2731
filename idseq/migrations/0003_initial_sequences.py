"""Create the sequences Tokenline starts with, and carry the walking skeleton's MRN counter over.

- `mrn`: grouped, from 001-00-001 (value 100001). The existing counter `mrn` becomes this sequence's counter as it
  is, so the next MRN is the one the skeleton would have issued; the MRNs it already issued have no ledger rows,
  so they are recorded as one UnrecordedRange "issued before the ledger existed" and `idseq_check` stays clean.
- `mrn-dated`: seed 001's `PAT-20241103-0001`, daily in the hospital's time zone, for a later MRN scheme setting.
- seed 004's common prefixes: CUS VEN WH PKG UOM PUR SAL INV REC INVY (letter-number, `INV-AAA0001`).
"""

from django.db import migrations

from idseq.builtin import BUILTIN_SEQUENCES, create_builtin_sequences
from idseq.formats import GROUPED_FIRST as MRN_FIRST


def create_sequences(apps, schema_editor):
    Sequence = apps.get_model("idseq", "Sequence")
    Counter = apps.get_model("idseq", "Counter")
    UnrecordedRange = apps.get_model("idseq", "UnrecordedRange")
    create_builtin_sequences(Sequence)
    mrn = Sequence.objects.get(key="mrn")
    counter = Counter.objects.filter(key="mrn").first()
    if counter:
        counter.sequence, counter.scope = mrn, ""
        counter.save(update_fields=["sequence", "scope"])
        if counter.last_value >= MRN_FIRST:
            UnrecordedRange.objects.create(
                sequence=mrn, scope="", first_value=MRN_FIRST, last_value=counter.last_value, reason="before_ledger"
            )


def remove_sequences(apps, schema_editor):
    Sequence = apps.get_model("idseq", "Sequence")
    keys = [spec["key"] for spec in BUILTIN_SEQUENCES]
    apps.get_model("idseq", "Counter").objects.filter(sequence__key__in=keys).update(sequence=None)
    apps.get_model("idseq", "UnrecordedRange").objects.filter(sequence__key__in=keys).delete()
    Sequence.objects.filter(key__in=keys, issued__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("idseq", "0002_sequences")]

    operations = [migrations.RunPython(create_sequences, remove_sequences)]
