"""`manage.py offline_incidents`: the open offline incidents, oldest first, one per line."""

from django.core.management.base import BaseCommand

from terminals.incidents import open_incidents


class Command(BaseCommand):
    help = "List open offline incidents: two registrations that claimed one MRN. Resolve them in the admin."

    def handle(self, *args, **options):
        found = list(open_incidents().order_by("created_at", "pk"))
        for incident in found:
            sent = incident.refused_details
            kept = f"kept {incident.kept.full_name!r}" if incident.kept else "number of another machine's lease"
            self.stdout.write(f"#{incident.pk} {incident.created_at:%Y-%m-%d %H:%M} {incident.terminal.code} "
                              f"MRN {incident.mrn}: {kept}, refused "
                              f"{sent.get('full_name')!r} (dob {sent.get('dob') or '-'}, phone "
                              f"{sent.get('phone') or '-'})")
        self.stdout.write(f"{len(found)} open offline incident(s)"
                          + ("; give each refused patient a new MRN in the admin (Offline incidents)." if found else "."))
