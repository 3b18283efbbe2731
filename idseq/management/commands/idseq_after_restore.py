from django.core.management.base import BaseCommand, CommandError

from idseq.exceptions import IdseqError
from idseq.restore import skip_after_restore


class Command(BaseCommand):
    help = (
        "After restoring a backup that may miss the last numbers printed: move every counter (MRNs, visit and slot "
        "tokens, prefix ids, terminal leases) past --margin values and/or past the ids given with --above, and "
        "reserve the values passed over as 'skipped after restore on <date>', so no printed number is issued again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--margin", type=int, default=0,
                            help="Values to pass over on every counter: more than any of them issues in the time "
                                 "the backup may have lost (e.g. a day's registrations).")
        parser.add_argument("--above", action="append", default=[], metavar="SEQUENCE=ID",
                            help="An id known to have been printed, e.g. mrn=001-00-326 or "
                                 "visit-token=VT-GEN-20261207-0042; the counter of its period passes it. Repeatable.")

    def handle(self, *args, margin, above, **options):
        known = []
        for item in above:
            key, sep, formatted = item.partition("=")
            if not sep or not key or not formatted:
                raise CommandError(f"--above takes SEQUENCE=ID, e.g. mrn=001-00-326 (got {item!r}).")
            known.append((key.strip(), formatted.strip()))
        try:
            skipped = skip_after_restore(margin=margin, known=known)
        except (IdseqError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        for line in skipped:
            self.stdout.write(str(line))
        self.stdout.write(self.style.SUCCESS(f"{len(skipped)} counter(s) and lease(s) moved past the lost numbers."))
