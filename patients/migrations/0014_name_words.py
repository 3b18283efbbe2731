"""The whole words of patients' names (patients.models.NameWord, patients/name_words.py), so a search for
one common word of a name reads its closest thousand patients from one index instead of ranking every match.

Forwards creates the table and the triggers that keep it, then fills it from every patient (REBUILD_SQL: at a
million patients about 2 million rows, 47 s on the loaded 2-core development machine). The triggers come first:
their lock on patients_patient keeps registrations waiting (not lost) until the table is complete. Backwards drops
the triggers and the table.
"""

import django.db.models.deletion
from django.db import migrations, models

from patients.name_words import CREATE_TRIGGERS_SQL, DROP_TRIGGERS_SQL, REBUILD_SQL


class Migration(migrations.Migration):

    dependencies = [
        ('patients', '0013_mrn_value'),
    ]

    operations = [
        migrations.CreateModel(
            name='NameWord',
            fields=[
                ('pk', models.CompositePrimaryKey('word', 'closeness', 'patient', blank=True, editable=False, primary_key=True, serialize=False)),
                ('word', models.TextField(db_collation='C')),
                ('closeness', models.FloatField()),
                ('patient', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='name_words', to='patients.patient')),
            ],
            options={
                'default_permissions': (),
            },
        ),
        migrations.RunSQL(CREATE_TRIGGERS_SQL, DROP_TRIGGERS_SQL),
        migrations.RunSQL("SET LOCAL maintenance_work_mem = '256MB';" + REBUILD_SQL, migrations.RunSQL.noop),
    ]
