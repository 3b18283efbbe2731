"""A range's cursor moves from `TerminalRange.current` (the last number handed out, 0: none) into its
idseq reservation's `next_value` (the next number to hand out), so idseq holds the one cursor. Backwards restores
`current` from it and leaves the reservation handed out whole again, as 0005 made it."""

from django.db import migrations, models


def cursor_into_reservation(apps, schema_editor):
    TerminalRange = apps.get_model("terminals", "TerminalRange")
    Reservation = apps.get_model("idseq", "Reservation")
    for block in TerminalRange.objects.select_related("reservation").order_by("start"):
        if block.reservation is None:
            if block.current:  # its numbers handed out so far would be forgotten, and handed out again
                raise RuntimeError(f"Range {block.start}-{block.end} (current {block.current}) has no reservation.")
            continue
        next_value = block.current + 1 if block.current else block.start
        Reservation.objects.filter(pk=block.reservation_id).update(next_value=next_value)


def cursor_into_range(apps, schema_editor):
    TerminalRange = apps.get_model("terminals", "TerminalRange")
    Reservation = apps.get_model("idseq", "Reservation")
    for block in TerminalRange.objects.filter(reservation__isnull=False).select_related("reservation"):
        reservation = block.reservation
        block.current = reservation.next_value - 1 if reservation.next_value > block.start else 0
        block.save(update_fields=["current"])
        Reservation.objects.filter(pk=reservation.pk).update(next_value=reservation.last_value + 1)


class Migration(migrations.Migration):

    dependencies = [
        ('terminals', '0005_range_reservations'),
    ]

    operations = [
        migrations.RunPython(cursor_into_reservation, cursor_into_range),
        migrations.RemoveConstraint(
            model_name='terminalrange',
            name='terminals_range_current_inside',
        ),
        migrations.RemoveField(
            model_name='terminalrange',
            name='current',
        ),
    ]
