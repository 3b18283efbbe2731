from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.text import CONTROL_CHARACTERS_BUT_LINE_BREAKS_SQL, CONTROL_CHARACTERS_SQL, FreeTextField, NameField
from patients.history_trigger import ChangesHistory
from patients.search import Fold, mrn_value_of, phone_key
from patients.validators import validate_cnic, validate_dob, validate_phone


MRN_VALUE_UNIQUE = "patients_patient_mrn_value_unique"

# Demographic fields as the pages name them in the page's language (forms, the corrections list).
FIELD_LABELS = {
    "full_name": _("Full name"), "father_name": _("Father's name"), "dob": _("Date of birth"), "sex": _("Sex"),
    "phone": _("Phone"), "cnic": _("CNIC"), "email": _("Email"), "address": _("Address"),
    "dob_estimated": _("Date of birth is estimated"),
}


class Patient(models.Model):
    """A registered patient. `mrn` is the registration number: issued once by `services.register_patient`,
    unique, and never changed or freed afterwards (deactivating a patient keeps the number)."""

    class Sex(models.TextChoices):
        MALE = "M", _("Male")
        FEMALE = "F", _("Female")
        OTHER = "O", _("Other")

    mrn = models.CharField("MRN", max_length=20, unique=True, editable=False)
    # Names and the address: NFC, no control, invisible, private-use or unassigned characters (core/text.py).
    full_name = NameField(max_length=200)
    father_name = NameField("father's name", max_length=200, blank=True)
    dob = models.DateField("date of birth", null=True, blank=True, validators=[validate_dob])
    # Worked out from an age the patient gave (`35y`, `8m`), not a known date (patients/dob.py).
    dob_estimated = models.BooleanField("date of birth estimated", default=False, db_default=False)
    sex = models.CharField(max_length=1, choices=Sex.choices, blank=True)
    phone = models.CharField(max_length=25, blank=True, validators=[validate_phone])
    cnic = models.CharField("CNIC", max_length=15, blank=True, validators=[validate_cnic])
    email = models.EmailField(blank=True)
    address = FreeTextField(blank=True)
    is_active = models.BooleanField(default=True)
    # Text messages when called (notifications/): asked at registration.
    notify_opt_out = models.BooleanField(
        _("no text messages"), default=False, help_text=_("The patient does not want an SMS when called.")
    )
    notify_language = models.CharField(
        _("message language"), max_length=2, choices=[("ur", _("Urdu")), ("en", _("English"))], default="ur"
    )
    # Set at registration; an import keeps the date the earlier system recorded (so not auto_now_add).
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Offline registration (seed 001): set by terminals.services only.
    origin_terminal = models.ForeignKey(
        "terminals.LabTerminal", null=True, blank=True, on_delete=models.SET_NULL, related_name="patients",
        editable=False,
    )
    is_offline_entry = models.BooleanField(default=False, editable=False)
    synced_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When the patient stood at the terminal, by the terminal's clock; synced_at is the server's time.
    registered_at = models.DateTimeField(null=True, blank=True, editable=False)
    client_uuid = models.UUIDField(
        null=True, blank=True, editable=False,
        help_text="The terminal's id for this registration; makes sync idempotent.",
    )
    # Set when this record was merged into another (patients/merge.py): the survivor, which holds this record's
    # visits, tokens and notifications now. This record and its MRN stay (inactive), so the number printed on its
    # slips still finds the patient; unmerging clears it.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_records", editable=False,
        db_index=False,  # indexed below for the few merged records only
    )
    # The names folded for search (lower case, no accents), computed by PostgreSQL on every write: the trigram
    # indexes are on these, and search compares and ranks them without folding a row again (patients/search.py).
    full_name_folded = models.GeneratedField(
        expression=Fold("full_name"), output_field=models.TextField(), db_persist=True
    )
    father_name_folded = models.GeneratedField(
        expression=Fold("father_name"), output_field=models.TextField(), db_persist=True
    )
    # The MRN's value in the `mrn` sequence's number space, computed by PostgreSQL: `007-10-042`, and a
    # slip's plain `710042`, are 710042; NULL for dated `PAT-...` numbers. Unique (below), so a number belongs to one
    # patient however it is written, and search finds a plain-digit slip's number by it (patients/selectors.py).
    mrn_value = models.GeneratedField(expression=mrn_value_of("mrn"), output_field=models.BigIntegerField(),
                                      db_persist=True)
    # Who corrected which demographic and when; services set `_history_user`. The row of the insert
    # itself is written by a database trigger (patients/history_trigger.py).
    history = ChangesHistory(excluded_fields=["created_by", "full_name_folded", "father_name_folded", "mrn_value"])

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("carry_over_mrn", "Can register a patient under a number issued before Tokenline"),
            ("view_register", "Can read and search the whole patient register (not only own registrations)"),
            ("merge_patient", "Can merge two records of one patient, and unmerge them"),
        ]
        constraints = [
            # One patient per MRN value, whichever way it is written (grouped `007-10-000` or plain `710000`).
            # (NULLs, the dated numbers, never clash in a unique index.)
            models.UniqueConstraint(fields=["mrn_value"], name=MRN_VALUE_UNIQUE),
            # A blank name would print an anonymous slip; forms check it too, the database has the last word.
            models.CheckConstraint(condition=~models.Q(full_name=""), name="patients_patient_full_name_not_blank"),
            # No control characters in names or the address (line breaks aside): the fields refuse them and every
            # other refused character; the database holds the worst of them out of any path that skips the fields
            # (raw SQL, a restore). Added NOT VALID (migration 0015): rows stored before stay readable.
            models.CheckConstraint(
                condition=~models.Q(full_name__regex=CONTROL_CHARACTERS_SQL)
                & ~models.Q(father_name__regex=CONTROL_CHARACTERS_SQL)
                & ~models.Q(address__regex=CONTROL_CHARACTERS_BUT_LINE_BREAKS_SQL),
                name="patients_patient_no_control_characters",
            ),
            # Only a date of birth can be an estimate.
            models.CheckConstraint(
                condition=models.Q(dob_estimated=False) | models.Q(dob__isnull=False),
                name="patients_patient_dob_estimated_needs_dob",
            ),
            # A merged-away record is no longer active (it is found through its survivor), and never its own survivor.
            models.CheckConstraint(
                condition=models.Q(merged_into__isnull=True)
                | (models.Q(is_active=False) & ~models.Q(merged_into=models.F("id"))),
                name="patients_patient_merged_is_inactive",
            ),
            # A terminal's replayed sync finds its record by client_uuid instead of creating a second patient.
            models.UniqueConstraint(
                fields=["client_uuid"],
                condition=models.Q(client_uuid__isnull=False),
                name="patients_patient_client_uuid_unique",
            ),
            # One active registration per person: a second one with the same CNIC is refused. Inactive
            # patients and patients without a CNIC are not constrained. services.py turns the violation into 409.
            models.UniqueConstraint(
                fields=["cnic"],
                condition=models.Q(is_active=True) & ~models.Q(cnic=""),
                name="patients_patient_active_cnic_unique",
                violation_error_message="A patient with this CNIC is already registered.",
            ),
        ]
        indexes = [
            # Search (patients/selectors.py), each index serving one kind of query at a million patients.
            # (MRN exact and prefix: Django's unique index and its `varchar_pattern_ops` twin already serve them.)
            # Name and father's name, partial, case- and accent-insensitive: trigrams of the folded text.
            GinIndex(fields=["full_name_folded"], opclasses=["gin_trgm_ops"], name="patients_full_name_trgm"),
            GinIndex(fields=["father_name_folded"], opclasses=["gin_trgm_ops"], name="patients_father_name_trgm"),
            # Phone in any formatting: the last 10 digits (0300-1234567 and +92 300 1234567 agree), reversed so
            # that the last digits alone are a prefix; pattern ops so LIKE 'prefix%' can use the index.
            models.Index(OpClass(phone_key("phone"), name="text_pattern_ops"), name="patients_phone_key"),
            # CNIC of inactive patients too (the unique index above covers only active ones).
            models.Index(fields=["cnic"], name="patients_cnic"),
            models.Index(fields=["dob"], name="patients_dob"),
            # Duplicate candidates (patients/duplicates.py): the patients whose birth date is an estimate from an
            # age, within a few years of a date.
            models.Index(fields=["dob"], condition=models.Q(dob_estimated=True), name="patients_dob_estimated"),
            # Registration date ranges and "newest first".
            models.Index(fields=["created_at"], name="patients_created_at"),
            # A survivor's merged records (FHIR's Patient.link, search by an old MRN): the few merged rows only.
            models.Index(fields=["merged_into"], condition=models.Q(merged_into__isnull=False),
                         name="patients_merged_into"),
            # The few inactive patients, newest first, without reading the active ones.
            models.Index(fields=["created_at"], condition=models.Q(is_active=False), name="patients_inactive"),
        ]

    def __str__(self):
        return f"{self.mrn} {self.full_name}"


class NameWord(models.Model):
    """One whole word of a patient's folded full name, with how close a search for that word alone finds the name
    (patients/name_words.py). Written by PostgreSQL triggers only, never by Python.

    `closeness` is 1 / the number of distinct trigrams of the folded full name: pg_trgm's similarity between a name
    and one of its own whole words `w` is trigrams(w) / trigrams(name), so among the patients sharing a word the
    ones with the highest closeness are the closest matches. The primary key is the search's index: the patients
    with a word, closest first and newest (highest id) first among equals, read backwards from one btree.
    """

    pk = models.CompositePrimaryKey("word", "closeness", "patient")
    # Collation "C": byte order, so building and searching the index compares bytes, not the locale's rules.
    word = models.TextField(db_collation="C")
    closeness = models.FloatField()
    # No foreign key constraint or index of its own: the triggers that write these rows also delete them with the
    # patient, and a constraint would add a check per word to every registration.
    patient = models.ForeignKey(Patient, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False,
                                related_name="name_words")

    class Meta:
        default_permissions = ()

    def __str__(self):
        return self.word


class ImportJob(models.Model):
    """A CSV of patients uploaded on the import page: checked on upload, then imported in the
    background (patients.tasks.run_import) while the page shows its progress and, at the end, its report."""

    class Status(models.TextChoices):
        CHECKED = "checked", _("Checked")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    file_name = models.CharField(max_length=255)
    csv_text = models.TextField(help_text="The file as uploaded (UTF-8).")
    skip_invalid = models.BooleanField(default=False, help_text="Import the valid rows when some are invalid.")
    rows = models.PositiveIntegerField(default=0, help_text="Data rows in the file.")
    errors = models.JSONField(default=list, help_text="`line N, column: message` of the invalid rows (first 200).")
    error_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CHECKED)
    checked = models.PositiveIntegerField(default=0, help_text="Rows checked so far by the background run.")
    imported = models.PositiveIntegerField(default=0)
    already_registered = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.file_name} ({self.get_status_display()})"

    @property
    def valid(self) -> int:
        """Rows without an error."""
        return self.rows - self.error_count

    @property
    def percent(self) -> int:
        """Progress for the page's bar: checking the rows is 90 %, the insert the last 10 %."""
        if self.status == self.Status.DONE:
            return 100
        return int(90 * self.checked / self.rows) if self.rows else 0


class PatientAccess(models.Model):
    """Who read which patient's details, when, and through what; or, for a search, its kind and how many patients
    it found (never the text typed: a name or CNIC searched for is itself patient data). Written by
    patients.access in the request that read, one row per patient shown in detail (one per row of an export), one per
    search. Older rows are deleted by `manage.py prune_access_log` (TOKENLINE_ACCESS_LOG_DAYS)."""

    class Channel(models.TextChoices):
        PAGE = "page", "Reception page"
        API = "api", "REST API"
        FHIR = "fhir", "FHIR"
        SLIP = "slip", "Slip"
        EXPORT = "export", "Export"
        ADMIN = "admin", "Admin"

    at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", help_text="Empty for an export run from the command line.")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    # Patients are never deleted in service (the admin refuses, the API deactivates), so CASCADE only ever follows a
    # deliberate removal of test or imported rows, whose reads go with them.
    patient = models.ForeignKey(Patient, null=True, blank=True, on_delete=models.CASCADE, related_name="accesses")
    search_kind = models.CharField(max_length=40, blank=True, help_text="A search: which kind (name, mrn, phone...).")
    result_count = models.PositiveIntegerField(null=True, blank=True, help_text="A search: patients found.")
    request_id = models.CharField(max_length=64, blank=True, help_text="The request's X-Request-ID, as in the log.")

    class Meta:
        verbose_name = "patient access"
        verbose_name_plural = "patient accesses"
        indexes = [
            # A patient's access history, newest first (the admin's filtered list).
            models.Index(fields=["patient", "-at"], name="patients_access_patient_at"),
            # prune_access_log deletes by age; the admin's list of all accesses is newest first.
            models.Index(fields=["at"], name="patients_access_at"),
        ]
        constraints = [
            # A row is either the read of one patient or a search (a kind, no patient), never both nor neither.
            models.CheckConstraint(
                condition=(models.Q(patient__isnull=False) & models.Q(search_kind=""))
                | (models.Q(patient__isnull=True) & ~models.Q(search_kind="")),
                name="patients_access_read_or_search",
            ),
        ]

    def __str__(self):
        what = f"patient {self.patient_id}" if self.patient_id else f"{self.search_kind} search"
        return f"{self.user or 'command line'} read {what} through {self.channel} at {self.at:%Y-%m-%d %H:%M}"


class PatientMerge(models.Model):
    """One merge of `merged` into `survivor` (patients/merge.py), kept for the audit and to undo it: who, when, why,
    the rows moved (by model label, their primary keys) and the survivor's blank fields filled from `merged`."""

    survivor = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="merges_kept")
    merged = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="merges_away")
    reason = models.TextField()
    cnic_override = models.BooleanField(default=False, help_text="Merged although the two CNICs differ.")
    moved = models.JSONField(default=dict, help_text="`{\"app.model.field\": [pk, ...]}`: the rows moved.")
    filled = models.JSONField(default=dict, help_text="The survivor's blank fields filled from the merged record.")
    merged_at = models.DateTimeField(default=timezone.now)
    merged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    unmerged_at = models.DateTimeField(null=True, blank=True)
    unmerged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    unmerge_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-merged_at", "-id"]
        default_permissions = ("view",)
        constraints = [
            # A record is merged away at most once at a time: a second merge of it must undo the first.
            models.UniqueConstraint(
                fields=["merged"], condition=models.Q(unmerged_at__isnull=True), name="patients_merge_once"
            ),
            # Nobody merges without saying why (the audit).
            models.CheckConstraint(condition=~models.Q(reason=""), name="patients_merge_has_reason"),
        ]

    def __str__(self):
        return f"{self.merged_id} -> {self.survivor_id}"


class DuplicatePair(models.Model):
    """Two records the scorer finds likely to be one patient (patients/duplicates.py), on the worklist until a person
    decides. `low` has the smaller primary key, so a pair is stored once whichever record found the other.
    "Not the same" is remembered: the pair is never put on the worklist again."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        MERGED = "merged", "Same patient (merged)"
        NOT_SAME = "not_same", "Not the same"

    low = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    high = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()
    reasons = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    found_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=20, blank=True, help_text="What found it: scan, offline sync, import.")
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-found_at", "-id"]
        constraints = [
            # One row per pair, in one order: "not the same" is then found again by the next scan and kept.
            models.UniqueConstraint(fields=["low", "high"], name="patients_duplicatepair_once"),
            models.CheckConstraint(condition=models.Q(low__lt=models.F("high")), name="patients_duplicatepair_ordered"),
        ]
        indexes = [
            # The worklist: open pairs, newest first.
            models.Index(fields=["-found_at"], condition=models.Q(status="open"), name="patients_duplicates_open"),
        ]

    def __str__(self):
        return f"{self.low_id} ~ {self.high_id} ({self.score:.2f})"
