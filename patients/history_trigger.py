"""The registration's history row, written by PostgreSQL instead of django-simple-history.

simple-history writes a historical row from Python after every save: one more ORM insert (and round trip) on the
registration's hot path. The `+` ("created") row is now written by an AFTER INSERT trigger on patients_patient, in
the same statement as the patient row, for every way a patient arrives (registration, offline sync, import, a
bulk insert, raw SQL). Corrections and deactivations (`~`, `-`) stay simple-history's, written as before, so
`patient.history`, `patients.history.corrections()` and the admin's History read one complete table.

The trigger copies the new rows column by column through jsonb (`to_jsonb(new row)` populated into a historical
row), so a field added to Patient later is copied without touching the trigger; the columns simple-history adds:
- history_date: the patient's `created_at` (set in Python at registration; an import keeps its earlier date), so
  a correction saved later always sorts after it, whatever the database server's clock says;
- history_user: the patient's `created_by`, else the user set with `history_user_for_inserts()` (imports);
- history_type `+`, history_change_reason NULL, history_id from the table's own sequence.
Created by migration patients/0011.
"""

import contextlib

from django.db import connection
from simple_history.models import HistoricalRecords

HISTORY_USER_SETTING = "tokenline.history_user"

CREATE_TRIGGER_SQL = f"""
CREATE OR REPLACE FUNCTION patients_history_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO patients_historicalpatient
    SELECT (jsonb_populate_record(NULL::patients_historicalpatient, to_jsonb(inserted) || jsonb_build_object(
        'history_id', nextval(pg_get_serial_sequence('patients_historicalpatient', 'history_id')),
        'history_date', inserted.created_at,
        'history_type', '+',
        'history_change_reason', NULL,
        'history_user_id', coalesce(
            inserted.created_by_id, nullif(current_setting('{HISTORY_USER_SETTING}', true), '')::bigint)
    ))).*
    FROM inserted;
    RETURN NULL;
END
$$;
CREATE TRIGGER patients_patient_history_insert AFTER INSERT ON patients_patient
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION patients_history_on_insert();
"""
DROP_TRIGGER_SQL = """
DROP TRIGGER IF EXISTS patients_patient_history_insert ON patients_patient;
DROP FUNCTION IF EXISTS patients_history_on_insert();
"""


class ChangesHistory(HistoricalRecords):
    """django-simple-history for changes and deletions only: the row of an insert comes from the trigger above."""

    def post_save(self, instance, created, using=None, **kwargs):
        if not created:
            super().post_save(instance, created, using=using, **kwargs)


@contextlib.contextmanager
def history_user_for_inserts(user):
    """Inside the caller's transaction: patients inserted in this block without `created_by` are recorded in their
    history as inserted by `user` (e.g. the user who imports a file). The setting is local to the transaction
    (`set_config(..., true)`): cleared on leaving the block, and undone by a rollback."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, true)", [HISTORY_USER_SETTING, str(getattr(user, "pk", "") or "")])
    yield
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, '', true)", [HISTORY_USER_SETTING])
