"""`manage.py export_patients [--output FILE] [--by USERNAME]`: every patient as CSV, in the shape import_patients
reads; each exported patient gets an access record (patients.access.exported)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from patients import access, csv_io
from patients.models import Patient


class Command(BaseCommand):
    help = "Export every patient as CSV (the import_patients columns), oldest registration first."

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", help="file to write (default: standard output)")
        parser.add_argument("--by", help="username of the person exporting, for the access records")

    def handle(self, *args, output, by, **options):
        user = None
        if by:
            user = get_user_model().objects.filter(username=by).first()
            if user is None:
                raise CommandError(f"No user {by!r}.")
        patients = access.exported(Patient.objects.order_by("created_at", "id").iterator(chunk_size=5000), user=user)
        if output:
            with open(output, "w", newline="", encoding="utf-8") as out:
                count = csv_io.write_patients(out, patients)
            self.stderr.write(f"Exported {count} patient(s) to {output}.")
        else:
            csv_io.write_patients(self.stdout, patients)
