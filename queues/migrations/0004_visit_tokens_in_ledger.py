"""Visit tokens join the idseq ledger. Each `visit-token:<code>:<yyyy-mm-dd>` counter becomes
the `visit-token` sequence's counter of scope `<code>-<yyyymmdd>` (key `visit-token@GEN-20261202`), every visit gets
its ledger row (`VT-GEN-20261202-0017`, issued at its `issued_at` by its issuer), and values no visit holds are
recorded as issued before the ledger, so `idseq_check` is clean on an upgraded database.

Back: the counters get their old keys again (tokens go on from where they were) and the ledger rows go.
"""

from django.db import migrations

from idseq.backfill import adopt_counters, record_issued, unlink

SEQUENCE = "visit-token"
SCOPE = "split_part(key, ':', 2) || '-' || replace(split_part(key, ':', 3), '-', '')"
OLD_KEY = ("'visit-token:' || split_part(scope, '-', 1) || ':' "
           "|| to_char(to_date(split_part(scope, '-', 2), 'YYYYMMDD'), 'YYYY-MM-DD')")
VISITS = """
    SELECT q.code || '-' || to_char(v.visit_date, 'YYYYMMDD') AS scope, v.token_number AS value, v.issued_at,
        v.issued_by_id
    FROM queues_visit v JOIN queues_queue q ON q.id = v.queue_id
"""


def forward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        adopt_counters(cursor, sequence_key=SEQUENCE, old_keys=r"^visit-token:[A-Z][A-Z0-9]*:\d{4}-\d{2}-\d{2}$",
                       scope=SCOPE)
        record_issued(cursor, sequence_key=SEQUENCE, issued=VISITS, purpose="visit token")


def backward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        unlink(cursor, sequence_key=SEQUENCE, old_key=OLD_KEY)


class Migration(migrations.Migration):

    dependencies = [
        ("idseq", "0009_token_sequences"),
        ("queues", "0003_visit_announced_at"),
    ]

    operations = [migrations.RunPython(forward, backward)]
