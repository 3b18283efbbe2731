"""`manage.py queue_check [--date YYYY-MM-DD] [--queue CODE]`: seed 003's integrity check of positions and tokens."""

import datetime
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from queues import selectors
from queues.models import Queue


class Command(BaseCommand):
    help = "Report missing/duplicate positions and tokens per queue for a day; exit non-zero if any."

    def add_arguments(self, parser):
        parser.add_argument("--date", type=datetime.date.fromisoformat, help="day to check (default today)")
        parser.add_argument("--queue", help="queue code (default every queue)")

    def handle(self, *args, date, queue, **options):
        queues = Queue.objects.filter(code=queue.upper()) if queue else Queue.objects.all()
        if queue and not queues:
            raise CommandError(f"No queue with code {queue!r}.")
        reports = [selectors.integrity(queue=q, visit_date=date or timezone.localdate()) for q in queues]
        for report in reports:
            self.stdout.write(json.dumps(report))
        broken = [r["queue"] for r in reports if not r["ok"]]
        if broken:
            raise CommandError(f"Integrity problems in {', '.join(broken)}.")
