"""Access rules for reception pages."""

from django.contrib.auth.decorators import login_required, permission_required


def role_required(perm: str):
    """Decorate a page view: anonymous users go to the login page; logged-in users without `perm` get 403.

    Args:
        perm: a model permission such as "patients.add_patient" (roles grant them, see core/roles.py).
    """

    def decorate(view):
        return login_required(permission_required(perm, raise_exception=True)(view))

    return decorate
