"""Sequence.version: a per-process cache of sequences is checked against it in the statement that
advances a counter. The database sets it, on every INSERT and UPDATE of a sequence, to the next value of a
PostgreSQL sequence, so (id, version) never repeats, not even for a row deleted and created again."""

from django.db import migrations, models

FORWARD = """
CREATE SEQUENCE idseq_sequence_version_seq;
CREATE FUNCTION idseq_sequence_new_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := nextval('idseq_sequence_version_seq');
    RETURN NEW;
END
$$;
CREATE TRIGGER idseq_sequence_version BEFORE INSERT OR UPDATE ON idseq_sequence
    FOR EACH ROW EXECUTE FUNCTION idseq_sequence_new_version();
UPDATE idseq_sequence SET version = 0;
"""

BACKWARD = """
DROP TRIGGER idseq_sequence_version ON idseq_sequence;
DROP FUNCTION idseq_sequence_new_version();
DROP SEQUENCE idseq_sequence_version_seq;
"""


class Migration(migrations.Migration):

    dependencies = [
        ("idseq", "0009_token_sequences"),
    ]

    operations = [
        migrations.AddField(
            model_name="sequence",
            name="version",
            field=models.BigIntegerField(default=0, editable=False),
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
