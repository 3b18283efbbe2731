"""tests/fast_flush.py: transactional tests are emptied with DELETE, and with Django's TRUNCATE where DELETE would
not end the same way (a TRUNCATE trigger, a foreign key that cannot be deferred)."""

from django.core.management.color import no_style
from django.db import connection

TABLES = ["patients_patient", "patients_historicalpatient", "idseq_counter"]


def flush_sql() -> list[str]:
    return connection.ops.sql_flush(no_style(), TABLES, reset_sequences=False, allow_cascade=False)


def test_it_empties_the_tables_with_delete_and_no_trigger_firing(db):
    assert flush_sql() == ["SET LOCAL session_replication_role = replica;", 'DELETE FROM "patients_patient";',
                           'DELETE FROM "patients_historicalpatient";', 'DELETE FROM "idseq_counter";']


def test_a_delete_trigger_neither_keeps_nor_writes_rows_as_under_truncate(db):
    with connection.cursor() as cursor:  # rolled back with the test
        cursor.execute("CREATE FUNCTION keep_rows() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$")
        cursor.execute("CREATE TRIGGER keep_rows BEFORE DELETE ON idseq_counter"
                       " FOR EACH ROW EXECUTE FUNCTION keep_rows()")
        cursor.execute("INSERT INTO idseq_counter (key, last_value, updated_at) VALUES ('kept?', 1, now())")
        connection.ops.execute_sql_flush(flush_sql())
        cursor.execute("SELECT count(*) FROM idseq_counter")
        assert cursor.fetchone() == (0,)


def test_it_truncates_when_a_table_has_a_truncate_trigger(db):
    with connection.cursor() as cursor:
        cursor.execute("CREATE FUNCTION on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$")
        cursor.execute("CREATE TRIGGER on_truncate AFTER TRUNCATE ON idseq_counter"
                       " FOR EACH STATEMENT EXECUTE FUNCTION on_truncate()")
    assert flush_sql()[0].startswith("TRUNCATE ")


def test_it_truncates_when_a_foreign_key_cannot_be_deferred(db):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE strict_child (patient_id bigint REFERENCES patients_patient (id))")
    assert flush_sql()[0].startswith("TRUNCATE ")


def test_it_truncates_when_asked_to_reset_sequences(db):
    assert connection.ops.sql_flush(no_style(), TABLES, reset_sequences=True)[0].startswith("TRUNCATE ")
