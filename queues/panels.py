"""The patient page's queue panel: Issue token buttons and today's tokens of the patient.

Registered with `patients.panels` in `QueuesConfig.ready()`, so patients never imports queues.
"""

from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils import timezone

from queues import selectors
from queues.forms import IssueTokenForm
from queues.models import Queue, Visit


def issue_token_panel(request, patient) -> str:
    """One button per open queue (one click issues the token and opens the slip), for users who may issue."""
    user = request.user
    visits = Visit.objects.filter(patient=patient, visit_date=timezone.localdate()).select_related("queue")
    context = {
        "patient": patient,
        "can_issue": user.has_perm("queues.add_visit") and patient.is_active,
        "queues": Queue.objects.filter(is_active=True),
        "form": IssueTokenForm(),
        "visits": selectors.with_positions(visits) if user.has_perm("queues.view_visit") else [],
        "csrf_token": get_token(request),
    }
    return render_to_string("queues/_issue_token.html", context, request=request)
