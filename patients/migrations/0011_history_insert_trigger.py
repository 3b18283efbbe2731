"""The `+` history row of every inserted patient is written by a trigger (see patients/history_trigger.py)."""

from django.db import migrations

from patients.history_trigger import CREATE_TRIGGER_SQL, DROP_TRIGGER_SQL


class Migration(migrations.Migration):

    dependencies = [
        ("patients", "0010_import_job"),
    ]

    operations = [migrations.RunSQL(CREATE_TRIGGER_SQL, DROP_TRIGGER_SQL)]
