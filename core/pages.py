"""Access rules for reception pages."""

import functools

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _


def role_required(perm: str):
    """Decorate a page view: anonymous users go to the login page; logged-in users without `perm` get 403, whose
    page says what their role may not do ("Your role may not add patient.", from the permission's name).

    Args:
        perm: a model permission such as "patients.add_patient" (roles grant them, see core/roles.py).
    """

    def decorate(view):
        @functools.wraps(view)
        def check(request, *args, **kwargs):
            if not request.user.has_perm(perm):
                raise PermissionDenied(refusal(perm))
            return view(request, *args, **kwargs)

        return login_required(check)

    return decorate


def refusal(perm: str) -> str:
    """The 403 reason for a missing permission "app.codename": "Your role may not <what the permission allows>."."""
    app_label, codename = perm.split(".", 1)
    name = (
        Permission.objects.filter(content_type__app_label=app_label, codename=codename)
        .values_list("name", flat=True)
        .first()
    )
    if not name:
        return _("Your role may not do this (%(perm)s).") % {"perm": perm}
    # The permission's name is Django's English ("Can add patient"); the sentence around it is translated whole.
    return _("Your role may not %(what)s.") % {"what": name.removeprefix("Can ")}
