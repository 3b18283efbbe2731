"""The sequences every Tokenline database has. Created by migration 0003 and again after each
`migrate`/`flush` (post_migrate), so a test database that was flushed still issues MRNs."""

from idseq.formats import GROUPED_FIRST, Kind, Period

SEED_004_PREFIXES = ["CUS", "VEN", "WH", "PKG", "UOM", "PUR", "SAL", "INV", "REC", "INVY"]

BUILTIN_SEQUENCES = [
    # The walking skeleton's MRN: 001-00-001, 001-00-002, ...
    {"key": "mrn", "kind": Kind.GROUPED, "start_value": GROUPED_FIRST, "padding": 8},
    # Seed 001's date-based MRN, PAT-20241103-0001, for the MRN scheme setting: next_id("mrn-dated").
    {"key": "mrn-dated", "kind": Kind.DATED, "prefix": "PAT", "reset": Period.DAILY, "padding": 4},
    # Visit tokens: one counter per queue and day, scope `<queue code>-<yyyymmdd>` named by queues;
    # ledger ids VT-GEN-20261202-0017 (the printed token stays GEN-017).
    {"key": "visit-token", "kind": Kind.PLAIN, "prefix": "VT", "reset": Period.SCOPED, "padding": 4},
    # OPD slot tokens: one counter per slot, scope the slot's id; ledger ids SLOT-<slot id>-0017.
    {"key": "slot-token", "kind": Kind.PLAIN, "prefix": "SLOT", "reset": Period.SCOPED, "padding": 4},
    # Seed 004's common prefixes: CUS-AAA0001 ...
    *({"key": prefix, "kind": Kind.LETTER_NUMBER, "prefix": prefix, "padding": 4} for prefix in SEED_004_PREFIXES),
]


def create_builtin_sequences(sequence_model) -> None:
    """Create the missing BUILTIN_SEQUENCES (existing ones are left as they are), those the model's state knows
    how to reset: a database migrated back before `scoped` resets (idseq 0008) gets no scoped sequence.

    Args:
        sequence_model: the Sequence model, live or historical (inside a migration).
    """
    resets = {value for value, _ in sequence_model._meta.get_field("reset").choices}
    sequence_model.objects.bulk_create(
        [sequence_model(**spec) for spec in BUILTIN_SEQUENCES if spec.get("reset", Period.NEVER) in resets],
        ignore_conflicts=True,
    )


def create_builtin_sequences_after_migrate(sender, apps=None, **kwargs) -> None:
    """post_migrate hook of the idseq app (after `migrate` with the migrated state's `apps`, after `flush` without);
    does nothing when idseq was migrated back before sequences existed."""
    if apps is None:
        from django.apps import apps
    try:
        sequence_model = apps.get_model("idseq", "Sequence")
    except LookupError:
        return
    create_builtin_sequences(sequence_model)
