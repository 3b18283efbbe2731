"""`manage.py export_patients [--output FILE]`: every patient as CSV, in the shape import_patients reads."""

from django.core.management.base import BaseCommand

from patients import csv_io
from patients.models import Patient


class Command(BaseCommand):
    help = "Export every patient as CSV (the import_patients columns), oldest registration first."

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", help="file to write (default: standard output)")

    def handle(self, *args, output, **options):
        patients = Patient.objects.order_by("created_at", "id").iterator(chunk_size=5000)
        if output:
            with open(output, "w", newline="", encoding="utf-8") as out:
                count = csv_io.write_patients(out, patients)
            self.stderr.write(f"Exported {count} patient(s) to {output}.")
        else:
            csv_io.write_patients(self.stdout, patients)
