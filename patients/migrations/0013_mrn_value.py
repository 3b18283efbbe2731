"""One format for every MRN. In the grouped scheme the plain-digit offline MRNs of lab terminals
(`710000`) are written grouped like every other MRN (`007-10-000`); every patient gets `mrn_value`, the MRN's value
in the `mrn` sequence's number space, unique, which also finds a number typed as the slip printed it.

Backwards writes offline patients' grouped MRNs as plain digits again. Forwards refuses (naming them) when an
offline number is also held, written the other way, by another patient: a person must decide who keeps it.
"""

import django.db.models.functions.comparison
from django.conf import settings
from django.db import migrations, models

GROUPED = r"^[0-9]{3}-[0-9]{2}-[0-9]{3}$"
PLAIN = r"^[0-9]{1,8}$"
TABLES = ("patients_patient", "patients_historicalpatient")


def to_one_format(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT o.mrn, g.mrn FROM patients_patient o JOIN patients_patient g
                ON o.mrn ~ '{PLAIN}' AND g.mrn ~ '{GROUPED}' AND o.mrn::bigint = replace(g.mrn, '-', '')::bigint
                ORDER BY 1 LIMIT 10"""
        )
        clashes = cursor.fetchall()
        if clashes:
            raise RuntimeError(
                "These offline MRNs are the same numbers as online ones held by other patients; decide who keeps "
                "each before migrating: " + ", ".join(f"{plain} = {grouped}" for plain, grouped in clashes)
            )
        if getattr(settings, "TOKENLINE_MRN_SCHEME", "grouped") != "grouped":
            return  # seed 001's world: offline numbers stay plain
        for table in TABLES:
            cursor.execute(
                f"UPDATE {table} SET mrn = regexp_replace(lpad(mrn, 8, '0'), '^(...)(..)(...)$', '\\1-\\2-\\3')"
                f" WHERE mrn ~ '{PLAIN}'"
            )


def to_plain_offline(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(
                f"UPDATE {table} SET mrn = replace(mrn, '-', '')::bigint::text"
                f" WHERE is_offline_entry AND mrn ~ '{GROUPED}'"
            )


class Migration(migrations.Migration):

    dependencies = [
        ('patients', '0012_view_register'),
        ('terminals', '0004_audit_who'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(to_one_format, to_plain_offline),
        migrations.AddField(
            model_name='patient',
            name='mrn_value',
            field=models.GeneratedField(db_persist=True, expression=models.Case(models.When(mrn__regex='^([0-9]{3}-[0-9]{2}-[0-9]{3}|[0-9]{1,8})$', then=django.db.models.functions.comparison.Cast(django.db.models.functions.comparison.NullIf(models.Func(models.F('mrn'), models.Value('[^0-9]'), models.Value(''), models.Value('g'), function='regexp_replace', output_field=models.TextField()), models.Value('')), models.BigIntegerField())), default=None, output_field=models.BigIntegerField()), output_field=models.BigIntegerField()),
        ),
        migrations.AddConstraint(
            model_name='patient',
            constraint=models.UniqueConstraint(fields=('mrn_value',), name='patients_patient_mrn_value_unique'),
        ),
    ]
