"""Demo doctors and today's OPD slots, so the booking page has something to book. Safe to run again."""

import datetime

from django.core.management.base import BaseCommand
from django.utils import timezone

from tokens import services
from tokens.models import Doctor

DEMO_DOCTORS = [
    ("Dr. Ayesha Khan", "Cardiology"),
    ("Dr. Bilal Ahmed", "General Medicine"),
    ("Dr. Sana Malik", "Paediatrics"),
    ("Dr. Usman Tariq", "Orthopaedics"),
]
DEMO_HOURS = range(9, 14)  # hourly slots 09:00-14:00 in the hospital's time zone
DEMO_CAPACITY = 15


class Command(BaseCommand):
    help = "Create demo doctors and their hourly slots for today (and --days more), unless already there."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=1, help="days of slots from today (default 1)")

    def handle(self, *args, days, **options):
        created = 0
        for name, specialization in DEMO_DOCTORS:
            doctor = Doctor.objects.filter(name=name).first() or services.create_doctor(
                name=name, specialization=specialization
            )
            for offset in range(days):
                day = timezone.localdate() + datetime.timedelta(days=offset)
                if doctor.slots.filter(start_time__date=day).exists():
                    continue
                for hour in DEMO_HOURS:
                    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))
                    services.create_slot(doctor=doctor, start_time=start, end_time=start + datetime.timedelta(hours=1),
                                         max_capacity=DEMO_CAPACITY)
                    created += 1
        self.stdout.write(self.style.SUCCESS(f"{len(DEMO_DOCTORS)} demo doctors; {created} slots created."))
