"""Demo doctors and today's OPD slots, so the booking page has something to book; with --morning, today's
bookings, consultations, a waiting list and an emergency too (tokens/demo.py). Safe to run again."""

import datetime
import random

from django.core.management.base import BaseCommand
from django.utils import timezone

from tokens import demo, services
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
        parser.add_argument("--morning", action="store_true",
                            help="also book and see today's tokens (a clinic in progress), unless today has some")
        parser.add_argument("--seed", type=int, default=None, help="random seed (repeatable demo)")

    def handle(self, *args, days, morning, seed, **options):
        created, doctors = 0, []
        for name, specialization in DEMO_DOCTORS:
            doctor = Doctor.objects.filter(name=name).first() or services.create_doctor(
                name=name, specialization=specialization
            )
            doctors.append(doctor)
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
        if morning:
            booked = demo.play_morning(doctors=doctors, rng=random.Random(seed))
            self.stdout.write(f"Demo OPD morning: {booked} tokens booked today." if booked else "Today already has tokens.")
