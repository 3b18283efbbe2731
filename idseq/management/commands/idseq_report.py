from django.core.management.base import BaseCommand

from idseq.selectors import sequence_usage

COLUMNS = [
    ("key", 12), ("kind", 13), ("scope", 10), ("next_id", 20), ("capacity", 15), ("issued", 12), ("reserved", 10),
    ("percent_used", 8), ("rate_per_day", 10), ("days_to_exhaustion", 12), ("level", 8),
]


class Command(BaseCommand):
    help = "Print every sequence's capacity, issued, % used, 30-day issue rate, days to exhaustion and level."

    def handle(self, *args, **options):
        self.stdout.write(" ".join(f"{name[:width]:<{width}}" for name, width in COLUMNS))
        for row in sequence_usage():
            values = row.as_dict()
            self.stdout.write(" ".join(f"{'-' if values[name] is None else values[name]!s:<{width}}"
                                       for name, width in COLUMNS))
