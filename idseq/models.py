from django.db import models


class Counter(models.Model):
    """The last value handed out for one key (e.g. `"mrn"`, `"visit-token:GEN:2024-11-03"`).

    The row is the lock: `allocate()` holds it with `SELECT ... FOR UPDATE` until the caller's transaction commits,
    so the values are unique and, when the caller saves them in the same transaction, gapless.
    """

    key = models.CharField(max_length=200, unique=True)
    last_value = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # A counter never goes below zero: a negative value means someone edited it by hand.
            models.CheckConstraint(condition=models.Q(last_value__gte=0), name="idseq_counter_last_value_gte_0"),
        ]

    def __str__(self):
        return f"{self.key} = {self.last_value}"
