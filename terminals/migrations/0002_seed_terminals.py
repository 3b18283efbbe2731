"""The four terminals of seed 001's table, each with its range and nothing used yet. Keys are issued in the admin."""

from django.db import migrations

SEED_TERMINALS = [
    ("LAB1-PC", "Lab 1 Workstation", 710000, 719999),
    ("LAB2-PC", "Lab 2 Workstation", 720000, 729999),
    ("RECEP-1", "Reception Desk 1", 730000, 739999),
    ("RECEP-2", "Reception Desk 2", 740000, 749999),
]


def create_terminals(apps, schema_editor):
    LabTerminal = apps.get_model("terminals", "LabTerminal")
    TerminalRange = apps.get_model("terminals", "TerminalRange")
    for code, name, start, end in SEED_TERMINALS:
        terminal, created = LabTerminal.objects.get_or_create(code=code, defaults={"name": name})
        if created:
            TerminalRange.objects.create(terminal=terminal, start=start, end=end)


def remove_terminals(apps, schema_editor):
    LabTerminal = apps.get_model("terminals", "LabTerminal")
    TerminalRange = apps.get_model("terminals", "TerminalRange")
    codes = [code for code, *_ in SEED_TERMINALS]
    TerminalRange.objects.filter(terminal__code__in=codes, current=0, leases__isnull=True).delete()
    LabTerminal.objects.filter(code__in=codes, ranges__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("terminals", "0001_initial")]

    operations = [migrations.RunPython(create_terminals, remove_terminals)]
