"""`{% issue_token_form patient %}`: the patient page's Issue token buttons and today's tokens of the patient."""

from django import template
from django.utils import timezone

from queues import selectors
from queues.forms import IssueTokenForm
from queues.models import Queue, Visit

register = template.Library()


@register.inclusion_tag("queues/_issue_token.html", takes_context=True)
def issue_token_form(context, patient):
    """One button per open queue (one click issues the token and opens the slip), for users who may issue."""
    user = context["request"].user
    visits = Visit.objects.filter(patient=patient, visit_date=timezone.localdate()).select_related("queue")
    return {
        "patient": patient,
        "can_issue": user.has_perm("queues.add_visit") and patient.is_active,
        "queues": Queue.objects.filter(is_active=True),
        "form": IssueTokenForm(),
        "visits": selectors.with_positions(visits) if user.has_perm("queues.view_visit") else [],
        "csrf_token": context.get("csrf_token"),
    }
