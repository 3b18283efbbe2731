"""OPD slot tokens join the idseq ledger. Each `slot-token:<slot id>` counter becomes the
`slot-token` sequence's counter of scope `<slot id>`, every token gets its ledger row (`SLOT-<slot id>-0017`, issued
at its `created_at` by whoever booked it), and values no token holds are recorded as issued before the ledger, so
`idseq_check` is clean on an upgraded database.

Back: the counters get their old keys again (numbering goes on from where it was) and the ledger rows go.
"""

from django.db import migrations

from idseq.backfill import adopt_counters, record_issued, unlink

SEQUENCE = "slot-token"
TOKENS = "SELECT slot_id::text AS scope, token_number AS value, created_at AS issued_at, booked_by_id AS issued_by_id" \
         " FROM tokens_token"


def forward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        adopt_counters(cursor, sequence_key=SEQUENCE, old_keys=r"^slot-token:[0-9a-f-]{36}$",
                       scope="substr(key, length('slot-token:') + 1)")
        record_issued(cursor, sequence_key=SEQUENCE, issued=TOKENS, purpose="OPD token")


def backward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        unlink(cursor, sequence_key=SEQUENCE, old_key="'slot-token:' || scope")


class Migration(migrations.Migration):

    dependencies = [
        ("idseq", "0009_token_sequences"),
        ("tokens", "0003_room_calls"),
    ]

    operations = [migrations.RunPython(forward, backward)]
