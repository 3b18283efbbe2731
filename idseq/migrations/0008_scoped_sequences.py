"""Sequences counted per caller's scope: the `scoped` reset. 0009 creates the built-in scoped
sequences; queues 0004 and tokens 0004 carry their old counters over."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('idseq', '0007_reservations'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='sequence',
            name='idseq_sequence_only_dated_resets',
        ),
        migrations.AlterField(
            model_name='counter',
            name='scope',
            field=models.CharField(blank=True, db_default='', default='', help_text="`` never, `2024-11-03`, `2024`, or a caller's scope such as `GEN-20241103`.", max_length=64),
        ),
        migrations.AlterField(
            model_name='sequence',
            name='reset',
            field=models.CharField(choices=[('never', 'never'), ('daily', 'daily'), ('yearly', 'yearly'), ('scoped', "per caller's scope (plain ids showing it: GEN-20261202-0017)")], default='never', max_length=10),
        ),
        migrations.AddConstraint(
            model_name='sequence',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('kind', 'dated'), ('reset__in', ['daily', 'yearly'])), models.Q(('kind', 'plain'), ('reset', 'scoped')), models.Q(models.Q(('kind', 'dated'), _negated=True), ('reset', 'never')), _connector='OR'), name='idseq_sequence_only_dated_or_scoped_resets'),
        ),
    ]
