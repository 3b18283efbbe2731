"""`manage.py hand_over_lease LAB1-PC 710000 --to DEVICE --by USER --reason "..."`: bind a dead PC's lease to its
replacement (terminals.services.hand_over_lease)."""

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from terminals.services import hand_over_lease


class Command(BaseCommand):
    help = "Hand a lease, with its printed-but-unsynced records, to another machine of the same terminal."

    def add_arguments(self, parser):
        parser.add_argument("terminal", help="the terminal code, e.g. LAB1-PC")
        parser.add_argument("start", type=int, help="the lease's first number, e.g. 710000")
        parser.add_argument("--to", required=True, help="the new machine's identity (its client's status shows it)")
        parser.add_argument("--by", required=True, help="the ops user's username")
        parser.add_argument("--reason", required=True, help="why, e.g. 'PC D died; its disk is in PC E'")

    def handle(self, *args, **options):
        user = User.objects.filter(username=options["by"]).first()
        if user is None:
            raise CommandError(f"No user {options['by']!r}.")
        try:
            handover = hand_over_lease(terminal_code=options["terminal"], start=options["start"],
                                       to_device=options["to"], by=user, reason=options["reason"])
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Lease {handover.lease} now belongs to machine {handover.to_device}; run the client's "
                          "adopt there, then sync.")
