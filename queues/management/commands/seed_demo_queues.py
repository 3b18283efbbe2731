"""Create the demo queues and desks (GEN, LAB, PHARM, XRAY); with --morning, today's visits too (queues/demo.py).
Development only: refused when DEBUG is off.

Queues are hospital configuration, so production sets them up in the admin; this command is for a laptop and is
run by `bin/dev.py serve`. It is idempotent.
"""

import logging
import random


from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from queues import demo
from queues.models import Desk, Queue

# code -> (name, default service minutes, desks serving it)
DEMO_QUEUES = {
    "GEN": ("General OPD", 8, ["Room 1", "Room 2"]),
    "LAB": ("Laboratory", 4, ["Lab counter"]),
    "PHARM": ("Pharmacy", 3, ["Pharmacy window"]),
    "XRAY": ("X-ray", 12, ["X-ray room"]),
}


class Command(BaseCommand):
    help = "Create the demo queues GEN, LAB, PHARM, XRAY and their desks. Refused when DEBUG is off."

    def add_arguments(self, parser):
        parser.add_argument("--morning", action="store_true",
                            help="also issue and serve today's visits (a morning in progress), unless today has some")
        parser.add_argument("--seed", type=int, default=None, help="random seed (repeatable demo)")

    def handle(self, *args, morning, seed, **options):
        if not settings.DEBUG:
            raise CommandError("seed_demo_queues is demo data; it runs only with DEBUG on.")
        for code, (name, minutes, desk_names) in DEMO_QUEUES.items():
            queue, _ = Queue.objects.get_or_create(
                code=code, defaults={"name": name, "default_service_minutes": minutes}
            )
            for desk_name in desk_names:
                Desk.objects.get_or_create(name=desk_name)[0].queues.add(queue)
        self.stdout.write(self.style.SUCCESS(f"Demo queues: {', '.join(DEMO_QUEUES)}."))
        if morning:
            # One summary line, not one "Visit created" log line per demo visit.
            logging.getLogger("tokenline.queues").setLevel(logging.WARNING)
            issued = demo.play_morning(rng=random.Random(seed))
            self.stdout.write(f"Demo morning: {issued} visits issued today." if issued else "Today already has visits.")
