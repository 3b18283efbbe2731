import re

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import BigIntegerRangeField, RangeBoundary, RangeOperators
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q

from idseq.formats import PREFIX_PATTERN, PREFIX_RE, IdFormat, Kind, Period

KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,49}$"  # no ":" or "@": those belong to ad-hoc counter keys and scopes
KEY_RE = re.compile(KEY_PATTERN.replace("$", r"\Z"))  # `$` would let a trailing newline through
SCOPE_LENGTH = 64  # a period (`2024-11-03`) or a caller's scope (`<queue code>-<yyyymmdd>`, `<slot id>`)


class Sequence(models.Model):
    """A named source of formatted ids (`mrn` -> `001-00-001`, `INV` -> `INV-AAA0001`, `mrn-dated` ->
    `PAT-20241103-0001`). Its numbers come from one Counter per scope period and each one issued is recorded in
    the ledger (IssuedNumber). The format fields never change once created: the ids already printed must stay
    readable and unique."""

    class Kinds(models.TextChoices):
        GROUPED = Kind.GROUPED, "grouped digits (001-00-001)"
        LETTER_NUMBER = Kind.LETTER_NUMBER, "letters and number (INV-AAA0001)"
        DATED = Kind.DATED, "dated (PAT-20241103-0001)"
        PLAIN = Kind.PLAIN, "plain number (0001)"

    class Resets(models.TextChoices):
        NEVER = Period.NEVER, "never"
        DAILY = Period.DAILY, "daily"
        YEARLY = Period.YEARLY, "yearly"
        SCOPED = Period.SCOPED, "per caller's scope (plain ids showing it: GEN-20261202-0017)"

    key = models.CharField(
        max_length=50, unique=True, validators=[RegexValidator(KEY_RE, f"Use a key matching {KEY_PATTERN}.")]
    )
    kind = models.CharField(max_length=20, choices=Kinds.choices)
    prefix = models.CharField(
        max_length=10,
        blank=True,
        validators=[RegexValidator(PREFIX_RE, f"A prefix is 1-10 characters matching {PREFIX_PATTERN}.")],
    )
    padding = models.PositiveSmallIntegerField(
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(18)],
        help_text="Digits of the number part (letter-number, dated, plain; grouped is always 8).",
    )
    start_value = models.BigIntegerField(default=1, validators=[MinValueValidator(1)])
    reset = models.CharField(max_length=10, choices=Resets.choices, default=Period.NEVER)
    check_digit = models.BooleanField(default=False, help_text="Append a Luhn mod-10 check digit.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set by the database on every INSERT and UPDATE of the row (trigger `idseq_sequence_version`, migration 0010) to
    # a value never used before, by any row: issue() keeps sequences in a per-process cache and advances a counter
    # only while the row still has the version it cached, checked in the same statement (services._advance_cached),
    # so a sequence retired or changed by anyone (admin, psql) is never used stale.
    version = models.BigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["key"]
        permissions = [
            ("issue_number", "Can take numbers from a sequence"),
            ("reset_sequence", "Can move a sequence forward (reset)"),
        ]
        constraints = [
            # Two sequences of one kind and prefix would print the same ids.
            models.UniqueConstraint(fields=["kind", "prefix"], name="idseq_sequence_kind_prefix_unique"),
            # Seed 004: a prefix sequence is known by its prefix; auto-creation relies on key = prefix.
            models.CheckConstraint(
                condition=~Q(kind=Kind.LETTER_NUMBER) | Q(key=F("prefix")),
                name="idseq_sequence_letter_number_key_is_prefix",
            ),
            # Only dated ids show their period and scoped plain ids their scope; any other sequence that started
            # again would print the same id twice.
            models.CheckConstraint(
                condition=Q(kind=Kind.DATED, reset__in=[Period.DAILY, Period.YEARLY])
                | Q(kind=Kind.PLAIN, reset=Period.SCOPED)
                | (~Q(kind=Kind.DATED) & Q(reset=Period.NEVER)),
                name="idseq_sequence_only_dated_or_scoped_resets",
            ),
            # A counter value must fit in a PostgreSQL bigint and the format must show at least one digit.
            models.CheckConstraint(condition=Q(padding__gte=1, padding__lte=18), name="idseq_sequence_padding_1_18"),
            models.CheckConstraint(condition=Q(start_value__gte=1), name="idseq_sequence_start_value_gte_1"),
        ]

    def __str__(self):
        return self.key

    def clean(self):
        """Field rules the constraints enforce, with messages a person can act on."""
        errors = {}
        if self.kind == Kind.LETTER_NUMBER and not self.prefix:
            errors["prefix"] = "A letter-number sequence needs a prefix, e.g. INV."
        elif self.kind == Kind.LETTER_NUMBER and self.key != self.prefix:
            errors["key"] = "A letter-number sequence is known by its prefix (seed 004): use the prefix as its key."
        if self.kind == Kind.DATED and self.reset not in (Period.DAILY, Period.YEARLY):
            errors["reset"] = "A dated sequence starts again daily or yearly."
        elif self.reset == Period.SCOPED and self.kind != Kind.PLAIN:
            errors["reset"] = "Only a plain sequence can be counted per scope (its ids show the scope)."
        elif self.kind != Kind.DATED and self.reset not in (Period.NEVER, Period.SCOPED):
            errors["reset"] = (
                "Only dated ids show their period; this kind would print the same ids again after a reset."
            )
        if self.kind and self.padding and self.start_value and self.start_value > self.id_format.last_value:
            errors["start_value"] = "The start value is past the last id this format can show."
        if errors:
            raise ValidationError(errors)

    @property
    def id_format(self) -> IdFormat:
        """The pure formatter/parser of this sequence's ids (idseq/formats.py)."""
        return IdFormat(
            kind=self.kind, prefix=self.prefix, digits=self.padding, period=self.reset, check_digit=self.check_digit
        )

    def counter_key(self, scope: str) -> str:
        """The Counter.key of this sequence in `scope`: the key itself when it never resets (so the walking
        skeleton's `mrn` counter carried over unchanged), else `key@scope`, e.g. `mrn-dated@2024-11-03`,
        `visit-token@GEN-20261202`."""
        return f"{self.key}@{scope}" if scope else self.key


class Counter(models.Model):
    """The last value handed out for one key (e.g. `"mrn"`, `"visit-token@GEN-20241103"`, an ad-hoc `"adhoc"`).

    The row is the lock: `allocate()` holds it with `SELECT ... FOR UPDATE` until the caller's transaction commits,
    so the values are unique and, when the caller saves them in the same transaction, gapless. Counters of a
    Sequence name it and their scope period; ad-hoc counters of `allocate()` leave both empty.
    """

    key = models.CharField(max_length=200, unique=True)
    last_value = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)
    sequence = models.ForeignKey(Sequence, null=True, blank=True, on_delete=models.PROTECT, related_name="counters")
    scope = models.CharField(
        max_length=SCOPE_LENGTH, blank=True, default="", db_default="",
        help_text="`` never, `2024-11-03`, `2024`, or a caller's scope such as `GEN-20241103`.",
    )
    # The first value of the lowest reservation above `last_value` (None: none), kept under the counter lock by
    # every reservation made, so allocation looks at reservations only when it reaches one (services._advance).
    # A hint that may be too low (a reservation deleted), never too high.
    reserved_from = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            # A counter never goes below zero: a negative value means someone edited it by hand.
            models.CheckConstraint(condition=models.Q(last_value__gte=0), name="idseq_counter_last_value_gte_0"),
            # One counter per sequence and period, or two desks could be handed the same value.
            models.UniqueConstraint(
                fields=["sequence", "scope"],
                condition=Q(sequence__isnull=False),
                name="idseq_counter_sequence_scope_unique",
            ),
        ]

    def __str__(self):
        return f"{self.key} = {self.last_value}"


class IdempotencyKey(models.Model):
    """An `Idempotency-Key` a client sent with an allocation, and a hash of its request. A retry with the same key
    gets the numbers the first request got (its IssuedNumber rows); the key is kept as long as the ledger (far
    more than the 24 h a client needs to retry). Keys belong to the user who sent them: another user sending the
    same key makes a request of their own and never sees the first user's numbers."""

    sequence = models.ForeignKey(Sequence, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="Who sent the key (null: the system).",
    )
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # One request per key and user: its row is also what makes 16 concurrent retries wait for the first.
            # NULLS NOT DISTINCT: keys sent without a user (the system) are one scope too.
            models.UniqueConstraint(
                fields=["sequence", "user", "key"], name="idseq_idempotencykey_user_key_unique", nulls_distinct=False
            ),
        ]

    def __str__(self):
        return self.key


class IssuedNumber(models.Model):
    """The ledger: one row per id ever issued, written in the transaction that advanced the counter. Rows are
    never deleted or renumbered; a number whose record went away is voided with a reason and never reissued."""

    sequence = models.ForeignKey(Sequence, on_delete=models.PROTECT, related_name="issued")
    scope = models.CharField(max_length=SCOPE_LENGTH, blank=True, default="")
    value = models.BigIntegerField()
    formatted = models.CharField("id", max_length=64)
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    purpose = models.CharField(max_length=200, blank=True)
    idempotency_key = models.ForeignKey(
        IdempotencyKey, null=True, blank=True, on_delete=models.PROTECT, related_name="issued"
    )
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=200, blank=True)
    # Who voided (the audit of voided numbers), written with voided_at.
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["sequence", "scope", "value"]
        constraints = [
            # No value is issued twice within a sequence's period...
            models.UniqueConstraint(fields=["sequence", "scope", "value"], name="idseq_issuednumber_value_unique"),
            # ...and no printed id twice anywhere.
            models.UniqueConstraint(fields=["formatted"], name="idseq_issuednumber_formatted_unique"),
            # A voided number says why, for the auditor who finds the gap in the records.
            models.CheckConstraint(
                condition=Q(voided_at__isnull=True) | ~Q(void_reason=""), name="idseq_issuednumber_void_has_reason"
            ),
        ]
        indexes = [
            # The 30-day issue rate of the health forecast.
            models.Index(fields=["sequence", "issued_at"], name="idseq_issued_seq_time_idx"),
        ]

    def __str__(self):
        return self.formatted


class UnrecordedRange(models.Model):
    """Values of one sequence period that have no ledger row on purpose: skipped by a forward reset (never issued),
    or issued before the ledger existed (the walking skeleton's MRNs). `idseq_check` counts them as present."""

    class Reasons(models.TextChoices):
        RESET = "reset", "skipped by a reset"
        BEFORE_LEDGER = "before_ledger", "issued before the ledger existed"

    sequence = models.ForeignKey(Sequence, on_delete=models.PROTECT, related_name="unrecorded")
    scope = models.CharField(max_length=SCOPE_LENGTH, blank=True, default="")
    first_value = models.BigIntegerField()
    last_value = models.BigIntegerField()
    reason = models.CharField(max_length=20, choices=Reasons.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            # An empty or reversed range would hide nothing yet confuse the check.
            models.CheckConstraint(
                condition=Q(first_value__lte=F("last_value")), name="idseq_unrecordedrange_first_lte_last"
            ),
        ]

    def __str__(self):
        return f"{self.sequence_id} {self.scope} {self.first_value}..{self.last_value} ({self.reason})"


class Int8Range(models.Func):
    """`int8range(first, last, '[]')`: the closed interval first..last, both ends included."""

    function = "INT8RANGE"
    output_field = BigIntegerRangeField()


def closed_range(first: str = "first_value", last: str = "last_value") -> Int8Range:
    """The closed int8range of two bigint columns, for exclusion constraints on value ranges."""
    return Int8Range(first, last, RangeBoundary(inclusive_lower=True, inclusive_upper=True))


class Reservation(models.Model):
    """Values `first_value`..`last_value` of one sequence period set aside for an owner (a lab terminal's range, the
    offline pool, a block of imported MRNs, a carried-over paper-card number): the counter steps over them and
    nobody else may issue them.

    Values of a reservation are issued by its owner only (`reservations.take_reserved` hands them out in order,
    `reservations.issue_reserved` records one in the ledger); `issued` counts its ledger rows, so `idseq_check` notices
    one that went missing. Made under the counter's row lock (`reservations.reserve`), never over an issued value.
    """

    sequence = models.ForeignKey(Sequence, on_delete=models.PROTECT, related_name="reservations")
    scope = models.CharField(max_length=SCOPE_LENGTH, blank=True, default="")
    first_value = models.BigIntegerField()
    last_value = models.BigIntegerField()
    next_value = models.BigIntegerField(help_text="The next value `take_reserved` hands out; last_value + 1: none.")
    issued = models.PositiveIntegerField(default=0, help_text="Ledger rows issued from this reservation.")
    owner = models.CharField(max_length=100, help_text="Who may issue these values, e.g. LAB1-PC, carried over.")
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["sequence", "scope", "first_value"]
        constraints = [
            # A real, positive interval: the overlap constraint and the counter's skipping rely on it.
            models.CheckConstraint(
                condition=Q(first_value__gte=1, first_value__lte=F("last_value")),
                name="idseq_reservation_first_le_last",
            ),
            # The cursor stays inside the reservation (last_value + 1 once all are handed out).
            models.CheckConstraint(
                condition=Q(next_value__gte=F("first_value"), next_value__lte=F("last_value") + 1),
                name="idseq_reservation_next_inside",
            ),
            # No value reserved for two owners: two terminals would print the same MRN offline (btree_gist).
            ExclusionConstraint(
                name="idseq_reservation_no_overlap",
                expressions=[
                    ("sequence", RangeOperators.EQUAL),
                    ("scope", RangeOperators.EQUAL),
                    (closed_range(), RangeOperators.OVERLAPS),
                ],
                violation_error_message="These values overlap another reservation.",
            ),
        ]

    def __str__(self):
        return f"{self.first_value}-{self.last_value} ({self.owner})"

    @property
    def total(self) -> int:
        """How many values the reservation holds."""
        return self.last_value - self.first_value + 1


class PendingIssue(models.Model):
    """A caller's request for one number of a sequence, with the record that carries it, waiting for coalesced
    allocation (idseq/coalesce.py): a leader numbers a batch of them in one transaction, writes the ledger and the
    records, and marks each row done in that same transaction; the caller reads and deletes its row.

    A row is a queue entry, never a record of an issued number (the ledger is that): rows are removed by their
    caller, whatever happened.
    """

    class States(models.TextChoices):
        QUEUED = "queued", "waiting for a leader"
        DONE = "done", "numbered and committed"
        DIRECT = "direct", "not numbered: the caller takes the ordinary path"

    sequence_key = models.CharField(max_length=200)
    kind = models.CharField(max_length=50, help_text="Which registered writer inserts the record (coalesce.writer).")
    payload = models.JSONField(help_text="The record's validated fields, as the writer reads them.")
    purpose = models.CharField(max_length=200, blank=True)
    # Plain ids, no foreign keys: the queue is written and deleted on every registration; the ledger keeps the
    # references once the number is issued.
    issued_by_id = models.BigIntegerField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=10, choices=States.choices, default=States.QUEUED)
    formatted = models.CharField(max_length=64, blank=True)
    record_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    # The caller's database connection (pg_backend_pid()): a leader numbers no row whose caller's connection ended.
    owner_pid = models.IntegerField()

    class Meta:
        default_permissions = ()
        indexes = [
            # A leader's drain: the queued rows of one sequence, oldest first.
            models.Index(fields=["sequence_key", "id"], condition=Q(state="queued"), name="idseq_pending_queued"),
        ]

    def __str__(self):
        return f"{self.sequence_key} #{self.pk} ({self.state})"
