"""Create demo users (one per role) and realistic patients. Development only: refused when DEBUG is off."""

import random

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError
from faker import Faker

from patients.models import Patient
from patients.services import register_patient

# username -> (role group, is_staff). Passwords are printed; they are for a laptop, never for a hospital.
DEMO_USERS = {
    "reception": ("reception", False),
    "lab": ("lab_terminal", False),
    "ops": ("ops", False),
    "doctor": ("doctor", False),
    "admin": ("admin", True),
}


class Command(BaseCommand):
    help = "Create demo users (one per role) and demo patients. Refused when DEBUG is off."

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, default=300, help="patients to register (default 300)")

    def handle(self, *args, patients, **options):
        if not settings.DEBUG:
            raise CommandError("seed_demo creates users with known passwords; it runs only with DEBUG on.")
        for username, (role, is_staff) in DEMO_USERS.items():
            password = f"{username}-demo"
            user, _ = User.objects.get_or_create(username=username, defaults={"is_staff": is_staff})
            user.set_password(password)
            user.save()
            user.groups.add(Group.objects.get(name=role))
            self.stdout.write(f"demo user {username!r} ({role}) password {password!r}")
        if Patient.objects.exists():
            self.stdout.write("Patients already present; none added.")
            return
        fake = Faker("en_PK")
        for _ in range(patients):
            register_patient(**demo_patient(fake))
        self.stdout.write(self.style.SUCCESS(f"Registered {patients} demo patients."))


def demo_patient(fake: Faker) -> dict:
    """Demographics that look like a Pakistani OPD's: names, 03xx phones, CNICs whose last digit follows sex."""
    sex = random.choice("MF")
    cnic_last = random.choice("13579" if sex == "M" else "02468")
    return {
        "full_name": fake.name_male() if sex == "M" else fake.name_female(),
        "father_name": fake.name_male(),
        "dob": fake.date_of_birth(minimum_age=0, maximum_age=90),
        "sex": sex,
        "phone": f"03{random.randint(0, 4)}{random.randint(0, 9)}-{random.randint(0, 9999999):07d}",
        "cnic": f"{random.randint(10000, 99999)}-{random.randint(0, 9999999):07d}-{cnic_last}"
        if random.random() < 0.8
        else "",
        "address": f"House {random.randint(1, 400)}, Street {random.randint(1, 60)}, "
        + random.choice(["Lahore", "Karachi", "Islamabad", "Rawalpindi", "Peshawar", "Multan", "Faisalabad"]),
    }
