from django.core.management.base import BaseCommand, CommandError

from idseq.selectors import ledger_problems


class Command(BaseCommand):
    help = (
        "Verify for every sequence and period or scope (visit tokens per queue and day, slot tokens per slot) that "
        "the ledger holds exactly start..last, each value once (void numbers count). Exits non-zero with a report "
        "when not."
    )

    def handle(self, *args, **options):
        problems = ledger_problems()
        if problems:
            raise CommandError(f"{len(problems)} problem(s) in the number ledger:\n" + "\n".join(problems))
        self.stdout.write(self.style.SUCCESS("Ledger clean: every issued number recorded once, none missing."))
