import time

from django.core.management.base import BaseCommand, CommandError

from reminders import services


class Command(BaseCommand):
    help = ("Write the reminders due now to the notifications outbox (OPD: the evening before and shortly before a "
            "slot; walk-in: N patients ahead). Run it every minute (--every 60, or from cron); running it twice, or "
            "two at once, sends each reminder once.")

    def add_arguments(self, parser):
        parser.add_argument("--every", type=int, default=0, metavar="SECONDS",
                            help="keep running, once every SECONDS (10 to 3600); 0 (default) runs once")

    def handle(self, *args, every, **options):
        if every and not 10 <= every <= 3600:
            raise CommandError("--every must be from 10 to 3600 seconds, or 0 to run once.")
        while True:
            counts = services.send_due()
            self.stdout.write(", ".join(f"{kind}: {count}" for kind, count in counts.items()))
            if not every:
                return
            time.sleep(every)
