from django.core.management.base import BaseCommand

from idseq.services import repair_counters


class Command(BaseCommand):
    help = "Move every sequence counter that lags behind its ledger forward (never back), so no number is reissued."

    def handle(self, *args, **options):
        moved = repair_counters()
        for line in moved:
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS(f"{len(moved)} counter(s) moved forward."))
