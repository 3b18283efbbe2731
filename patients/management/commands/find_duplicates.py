"""`manage.py find_duplicates [--days N]`: queue the likely duplicates of recent registrations on the worklist."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from patients import worklist
from patients.models import Patient


class Command(BaseCommand):
    help = ("Score the patients registered in the last N days (default 1) against the register and queue the likely "
            "duplicates on the worklist (/patients/duplicates/); pairs decided before are left as decided.")

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=1, help="registrations of the last N days (default 1)")

    def handle(self, *args, days, **options):
        if days < 1:
            raise CommandError("--days is at least 1.")
        since = timezone.now() - timedelta(days=days)
        recent = list(Patient.objects.filter(created_at__gte=since, is_active=True, merged_into__isnull=True))
        found = worklist.queue_pairs_for_many(recent, source=worklist.SCAN)
        self.stdout.write(f"{len(recent)} patient(s) scored; {found} likely duplicate pair(s) on the worklist.")
