"""`manage.py prune_access_log [--days N]`: delete patient access records older than the retention period."""

from django.core.management.base import BaseCommand, CommandError

from patients import access


class Command(BaseCommand):
    help = "Delete patient access records older than TOKENLINE_ACCESS_LOG_DAYS days (or --days)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, help="keep this many days instead of TOKENLINE_ACCESS_LOG_DAYS")

    def handle(self, *args, days, **options):
        try:
            deleted = access.prune(days=days)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Deleted {deleted} access record(s).")
