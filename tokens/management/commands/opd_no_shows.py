"""`manage.py opd_no_shows`: the automatic OPD no-show, run every minute from cron (`* * * * *`).

Marks no-show every confirmed token neither checked in nor called once its slot has ended plus
OPD_CHECK_IN_GRACE_MINUTES, promoting each slot's waiting list as the room's No-show button does
(`tokens.services.no_show_absent`). Safe to run twice at once or after a pause: each token is ended once.
"""

from django.core.management.base import BaseCommand

from tokens import services


class Command(BaseCommand):
    help = "Mark no-show the OPD tokens not checked in by their slot's end plus the grace; promote waiting lists."

    def handle(self, *args, **options):
        for token, promoted in services.no_show_absent():
            line = f"No-show: token {token.token_number} of slot {token.slot_id}"
            self.stdout.write(line + (f"; promoted token {promoted.token_number}" if promoted else ""))
