"""The whole words of every patient's name, kept by PostgreSQL for searching one word of a name.

Why: at a million patients a common surname is 5,000-17,000 names. The trigram index finds them, but ranking them
by similarity read every one of their rows, scattered over the table (74-230 ms). For one whole word the ranking is
known in advance: pg_trgm's similarity of a name to one of its own words `w` is trigrams(w) / trigrams(name)
(every trigram of `w` is one of the name's), so the closest names are those with the fewest trigrams. The table
patients_nameword (patients.models.NameWord) holds one row per distinct word of each folded full name with
`closeness` = 1 / trigrams(name), and its primary key (word, closeness, patient) lists a word's patients closest
first, newest first among equals: patients.selectors takes the first thousand of them from the index alone.

Words are the folded name (patients_fold, the `full_name_folded` column) split at spaces, so a search text without
a space that is one of them is also found by the trigram index's `LIKE '%text%'`.

Kept in step by three triggers on patients_patient, in the statement that changes the patient, for every way a
patient arrives or changes (registration, offline sync, import, the admin, raw SQL): after INSERT and DELETE once per
statement (a COPY of a million rows is one INSERT of their words), after an UPDATE that changes `full_name` once per
row. Created by migration patients/0014, which also fills the table (REBUILD_SQL).
"""

# The rows of patients_nameword for the patients in the FROM item `source` (columns `id`, `full_name_folded`): each
# distinct word once (the first of repeated words: `array_position`, cheaper than a DISTINCT over every row).
# `greatest(..., 1)`: a name with no letters or digits (pg_trgm finds no trigram in it) still gets its rows.
ROWS_SQL = """
SELECT word, closeness, id FROM (
    SELECT id, string_to_array(full_name_folded, ' ') AS words,
           1.0::float8 / greatest(cardinality(show_trgm(full_name_folded)), 1) AS closeness
    FROM {source}
) names, unnest(words) WITH ORDINALITY AS w(word, position)
WHERE word <> '' AND array_position(words, word) = position
"""


def rows_sql(source: str) -> str:
    """The SELECT of patients_nameword rows (word, closeness, patient id) for the patients of `source`."""
    return ROWS_SQL.format(source=source)


DELETE_SQL = """
DELETE FROM patients_nameword w USING ({rows}) gone
WHERE w.word = gone.word AND w.closeness = gone.closeness AND w.patient_id = gone.id;
"""

# Every patient's words again, from scratch (migration patients/0014, bench/search.py after its COPY): the rows go
# in without the primary key, whose index is then built once, sorted, instead of row by row (at a million patients
# about 2 million rows).
REBUILD_SQL = f"""
TRUNCATE patients_nameword;
ALTER TABLE patients_nameword DROP CONSTRAINT patients_nameword_pkey;
INSERT INTO patients_nameword (word, closeness, patient_id) {rows_sql('patients_patient')};
ALTER TABLE patients_nameword ADD CONSTRAINT patients_nameword_pkey PRIMARY KEY (word, closeness, patient_id);
ANALYZE patients_nameword;
"""

CREATE_TRIGGERS_SQL = f"""
CREATE FUNCTION patients_name_words_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO patients_nameword (word, closeness, patient_id) {rows_sql('inserted')};
    RETURN NULL;
END
$$;
CREATE FUNCTION patients_name_words_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {DELETE_SQL.format(rows=rows_sql('deleted'))}
    RETURN NULL;
END
$$;
CREATE FUNCTION patients_name_words_rename() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {DELETE_SQL.format(rows=rows_sql('(SELECT OLD.id, OLD.full_name_folded) AS renamed'))}
    INSERT INTO patients_nameword (word, closeness, patient_id)
        {rows_sql('(SELECT NEW.id, NEW.full_name_folded) AS renamed')};
    RETURN NULL;
END
$$;
CREATE TRIGGER patients_patient_name_words_insert AFTER INSERT ON patients_patient
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION patients_name_words_insert();
CREATE TRIGGER patients_patient_name_words_delete AFTER DELETE ON patients_patient
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION patients_name_words_delete();
CREATE TRIGGER patients_patient_name_words_rename AFTER UPDATE OF full_name ON patients_patient
    FOR EACH ROW WHEN (OLD.full_name IS DISTINCT FROM NEW.full_name) EXECUTE FUNCTION patients_name_words_rename();
"""

DROP_TRIGGERS_SQL = """
DROP TRIGGER IF EXISTS patients_patient_name_words_insert ON patients_patient;
DROP TRIGGER IF EXISTS patients_patient_name_words_delete ON patients_patient;
DROP TRIGGER IF EXISTS patients_patient_name_words_rename ON patients_patient;
DROP FUNCTION IF EXISTS patients_name_words_insert();
DROP FUNCTION IF EXISTS patients_name_words_delete();
DROP FUNCTION IF EXISTS patients_name_words_rename();
"""
