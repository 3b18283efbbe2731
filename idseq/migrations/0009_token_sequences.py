"""The built-in scoped sequences `visit-token` and `slot-token` (idseq/builtin.py). queues 0004
and tokens 0004 carry their old counters over. (Apart from 0008: rows deleted on the way back leave trigger events
that would stop 0008's ALTER TABLE in the same transaction.)

Going back removes every scoped sequence with its counters' link, ledger rows and unrecorded ranges (the apps'
migrations, unapplied first, have put their counters back under the old keys)."""

from django.db import migrations

from idseq.builtin import create_builtin_sequences


def create_token_sequences(apps, schema_editor):
    create_builtin_sequences(apps.get_model("idseq", "Sequence"))


def remove_scoped_sequences(apps, schema_editor):
    scoped = apps.get_model("idseq", "Sequence").objects.filter(reset="scoped")
    apps.get_model("idseq", "Counter").objects.filter(sequence__in=scoped).update(sequence=None, scope="")
    for model in ("IssuedNumber", "UnrecordedRange", "Reservation", "IdempotencyKey"):
        apps.get_model("idseq", model).objects.filter(sequence__in=scoped).delete()
    scoped.delete()


class Migration(migrations.Migration):

    dependencies = [
        ("idseq", "0008_scoped_sequences"),
    ]

    operations = [migrations.RunPython(create_token_sequences, remove_scoped_sequences)]
