from django.db import models


class Day(models.Model):
    """No table: the holder of the permission to read the manager's day (`today.view_day`), given to ops and admin
    (core/roles.py)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_day", "Can see today's waits against the target")]
