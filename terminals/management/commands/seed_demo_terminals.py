"""Bind the demo `lab` user (made by seed_demo) to terminal LAB1-PC, so offline registration works at once."""

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from terminals.models import LabTerminal

DEMO_TERMINAL = "LAB1-PC"  # created by terminals' data migration (seed 001's ranges)


class Command(BaseCommand):
    help = "Make the demo user 'lab' the API identity of terminal LAB1-PC. Refused when DEBUG is off."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("seed_demo_terminals binds a demo user; it runs only with DEBUG on.")
        lab = User.objects.filter(username="lab").first()
        if lab is None:
            raise CommandError("Run seed_demo first: it creates the demo user 'lab'.")
        if LabTerminal.objects.filter(code=DEMO_TERMINAL, user__isnull=True).update(user=lab):
            self.stdout.write(f"demo user 'lab' is terminal {DEMO_TERMINAL} (offline registration, leases, sync)")
