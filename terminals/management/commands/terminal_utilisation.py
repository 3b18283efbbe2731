"""`manage.py terminal_utilisation`: seed 001's monitoring numbers per terminal and range, and the ops view (last
contact and sync, printed-not-synced and refused from the server's state, clock skew, open incidents, per machine,
and per lease printed/synced/unsynced with its last contact, STALE when unreported too long)."""

import json

from django.core.management.base import BaseCommand

from terminals.queries import ops_view, utilisation


class Command(BaseCommand):
    help = "Show used, total, % used, remaining and level (warning 80 %, critical 90 %) per terminal and range."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")

    def handle(self, *args, **options):
        report = utilisation()
        ops = {row["code"]: row for row in ops_view()}
        if options["json"]:
            self.stdout.write(json.dumps({**report, "ops": list(ops.values())}, indent=2, default=str))
            return
        for t in report["terminals"]:
            self.stdout.write(f"{t['code']}: {t['used']}/{t['total']} used ({t['percent']:.1f}%), "
                              f"{t['remaining']} remaining [{t['level']}], {t['registered']} registered offline")
            for r in t["ranges"]:
                self.stdout.write(f"  {r['start']}-{r['end']} current {r['current']}: {r['used']}/{r['total']} "
                                  f"({r['percent']:.1f}%), {r['remaining']} remaining [{r['level']}]")
            o = ops[t["code"]]
            skew = "-" if o["clock_skew_seconds"] is None else f"{o['clock_skew_seconds']:+d} s"
            self.stdout.write(f"  last contact {_when(o['last_contact_at'])}, last sync {_when(o['last_sync_at'])}, "
                              f"pending {_shown(o['pending'])}, refused {_shown(o['refused'])}, clock {skew}"
                              f"{' SKEWED' if o['clock_skewed'] else ''}, open incidents {o['open_incidents']}")
            for device in o["devices"]:
                self.stdout.write(f"  machine {device['device_id'][:12] or '(no identity)'}: last contact "
                                  f"{_when(device['last_contact_at'])}, pending {device['pending']}, refused "
                                  f"{device['refused']}, leases {device['leases']}")
            for lease in o["leases"]:
                self.stdout.write(f"  lease {lease['start']}-{lease['end']}: used {lease['used']}, unused "
                                  f"{lease['unused']}, synced {lease['synced']}, high-water "
                                  f"{_shown(lease['high_water'])}, printed {_shown(lease['printed'])}, unsynced "
                                  f"{_shown(lease['unsynced'])}, machine {lease['device_id'][:12] or '-'}, last "
                                  f"contact {_when(lease['last_contact_at'])}{' STALE' if lease['stale'] else ''}")
        self.stdout.write(f"online MRN counter at {report['online_mrn_last']}; "
                          f"headroom below the lowest offline range: {report['online_headroom']}")


def _when(moment) -> str:
    return "never" if moment is None else f"{moment:%Y-%m-%d %H:%M:%S %Z}"


def _shown(value) -> str:
    return "-" if value is None else str(value)
