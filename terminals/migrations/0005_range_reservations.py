"""Every terminal range becomes an idseq reservation of the `mrn` sequence (owner: the terminal's
code), and every offline patient already synced gets its ledger row, issued by the terminal's user. Backwards
removes both."""

import django.db.models.deletion
from django.db import migrations, models

from idseq.formats import format_grouped

PURPOSE = "offline registration"


def reserve_ranges(apps, schema_editor):
    Sequence = apps.get_model("idseq", "Sequence")
    Reservation = apps.get_model("idseq", "Reservation")
    IssuedNumber = apps.get_model("idseq", "IssuedNumber")
    Counter = apps.get_model("idseq", "Counter")
    TerminalRange = apps.get_model("terminals", "TerminalRange")
    Patient = apps.get_model("patients", "Patient")
    sequence = Sequence.objects.filter(key="mrn").first()
    if sequence is None or not TerminalRange.objects.filter(reservation__isnull=True).exists():
        return
    for block in TerminalRange.objects.filter(reservation__isnull=True).select_related("terminal").order_by("start"):
        synced = list(Patient.objects.filter(is_offline_entry=True, mrn_value__gte=block.start,
                                             mrn_value__lte=block.end))
        block.reservation = Reservation.objects.create(
            sequence=sequence, scope="", first_value=block.start, last_value=block.end, next_value=block.end + 1,
            issued=len(synced), owner=block.terminal.code, reason="offline range", created_by_id=block.created_by_id,
        )
        block.save(update_fields=["reservation"])
        IssuedNumber.objects.bulk_create(
            IssuedNumber(sequence=sequence, scope="", value=p.mrn_value, formatted=format_grouped(p.mrn_value),
                         issued_at=p.synced_at or p.created_at, issued_by_id=p.created_by_id, purpose=PURPOSE)
            for p in synced
        )
    counter = Counter.objects.filter(key="mrn").first()
    if counter is not None:
        above = Reservation.objects.filter(sequence=sequence, scope="", first_value__gt=counter.last_value)
        counter.reserved_from = above.order_by("first_value").values_list("first_value", flat=True).first()
        counter.save(update_fields=["reserved_from"])


def release_ranges(apps, schema_editor):
    Reservation = apps.get_model("idseq", "Reservation")
    IssuedNumber = apps.get_model("idseq", "IssuedNumber")
    TerminalRange = apps.get_model("terminals", "TerminalRange")
    for block in TerminalRange.objects.filter(reservation__isnull=False).select_related("reservation"):
        reservation = block.reservation
        IssuedNumber.objects.filter(sequence=reservation.sequence_id, scope="", purpose=PURPOSE,
                                    value__gte=reservation.first_value, value__lte=reservation.last_value).delete()
        block.reservation = None
        block.save(update_fields=["reservation"])
        reservation.delete()


class Migration(migrations.Migration):

    dependencies = [
        ('idseq', '0007_reservations'),
        ('terminals', '0004_audit_who'),
        ('patients', '0013_mrn_value'),
    ]

    operations = [
        migrations.AddField(
            model_name='terminalrange',
            name='reservation',
            field=models.OneToOneField(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='terminal_range', to='idseq.reservation'),
        ),
        migrations.RunPython(reserve_ranges, release_ranges),
    ]
