"""`manage.py terminal_utilisation`: seed 001's monitoring numbers per terminal and range."""

import json

from django.core.management.base import BaseCommand

from terminals.selectors import utilisation


class Command(BaseCommand):
    help = "Show used, total, % used, remaining and level (warning 80 %, critical 90 %) per terminal and range."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")

    def handle(self, *args, **options):
        report = utilisation()
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        for t in report["terminals"]:
            self.stdout.write(f"{t['code']}: {t['used']}/{t['total']} used ({t['percent']:.1f}%), "
                              f"{t['remaining']} remaining [{t['level']}], {t['registered']} registered offline")
            for r in t["ranges"]:
                self.stdout.write(f"  {r['start']}-{r['end']} current {r['current']}: {r['used']}/{r['total']} "
                                  f"({r['percent']:.1f}%), {r['remaining']} remaining [{r['level']}]")
        self.stdout.write(f"online MRN counter at {report['online_mrn_last']}; "
                          f"headroom below the lowest offline range: {report['online_headroom']}")
