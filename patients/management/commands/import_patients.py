"""`manage.py import_patients FILE.csv [--skip-invalid]`: bring in patients with the numbers they already carry."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from core.errors import DomainError
from patients import csv_io, services


class Command(BaseCommand):
    help = "Import patients from CSV (columns in docs/operations/imports.md), keeping their MRNs; all rows or none."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--skip-invalid", action="store_true", help="import the valid rows, list the others")

    def handle(self, *args, file, skip_invalid, verbosity, **options):
        try:
            text = csv_io.decode(file.read_bytes())
            reading = csv_io.read_patients(text, progress=lambda rows: self.bar(rows, "checking", verbosity))
        except OSError as exc:
            raise CommandError(f"{file}: {exc.strerror}") from exc
        except csv_io.BadFile as exc:
            raise CommandError(f"{file}, {exc}. Nothing imported.") from exc
        reading.refuse_clashes_with_register()
        for error in reading.errors:
            self.stderr.write(f"{file}, {error}")
        if reading.errors and not skip_invalid:
            raise CommandError(
                f"{len(reading.refused)} invalid row(s); nothing imported (--skip-invalid imports the rest)."
            )
        try:
            added = services.import_patients(patients=reading.patients)
        except DomainError as exc:
            raise CommandError(f"{exc}. Nothing imported.") from exc
        self.stdout.write(self.style.SUCCESS(
            f"Imported {len(added)} patient(s); {len(reading.patients) - len(added)} already registered;"
            f" {len(reading.refused)} invalid row(s) skipped."
        ))

    def bar(self, rows, label, verbosity):
        return tqdm(rows, desc=label, unit=" rows", file=sys.stderr, disable=verbosity == 0 or None)
