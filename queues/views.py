"""Pages for queues: the overview, issuing a token (with its slip), the desk page, and the waiting-room board.

Writes go through `queues.services`; a DomainError (409) becomes an error message on the page it came from, never a 500.
"""

import datetime
import hmac
from functools import partial

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import condition, require_POST

from core import boards, qr, tokenlinks
from core.digits import urdu_digits
from core.errors import DomainError
from core.pages import refusal, role_required
from patients.exceptions import DuplicatePatient
from patients.mrn import client_formats
from patients.selectors import of_visible, visible_to
from queues import selectors, services
from queues.forms import IssueTokenForm, RegisterAndIssueForm, TransferForm
from queues.models import Desk, Queue, Visit

# The desk page's buttons: URL name of the step -> (service, name of its user argument, the message when done).
STEPS = {
    "call-again": (services.call_again, "called_by", _("%(token)s called again (%(name)s, %(mrn)s).")),
    "start": (services.start_visit, "started_by", _("%(token)s started (%(name)s, %(mrn)s).")),
    "complete": (services.complete_visit, "completed_by", _("%(token)s completed (%(name)s, %(mrn)s).")),
    "no-show": (services.mark_no_show, "marked_by", _("%(token)s marked no-show (%(name)s, %(mrn)s).")),
    "recall": (services.recall_visit, "recalled_by", _("%(token)s recalled to the line (%(name)s, %(mrn)s).")),
    "cancel": (services.cancel_visit, "cancelled_by", _("%(token)s cancelled (%(name)s, %(mrn)s).")),
}


def board_key() -> str:
    """The key a waiting-room board puts in its URL: setting QUEUE_BOARD_KEY, or one derived from SECRET_KEY."""
    return settings.QUEUE_BOARD_KEY or salted_hmac("tokenline.queues.board", "board").hexdigest()[:24]


@role_required("queues.view_queue")
def index(request):
    """Today's queues (waiting counts), the desks with links to their pages, and the board's URL."""
    queues = list(Queue.objects.all())
    today = timezone.localdate()
    waiting = dict(
        Visit.objects.filter(visit_date=today, status=Visit.Status.WAITING)
        .order_by()  # no Meta.ordering in the GROUP BY
        .values_list("queue_id")
        .annotate(n=Count("pk"))
    )
    for queue in queues:
        queue.waiting = waiting.get(queue.pk, 0)
    active = ",".join(q.code for q in queues if q.is_active)
    return render(request, "queues/index.html", {
        "queues": queues,
        "desks": Desk.objects.prefetch_related("queues"),
        "board_url": f"/board/?queues={active}&key={board_key()}&sources={','.join(boards.names())}",
    })


@require_POST
@role_required("queues.add_visit")
def issue(request, patient_pk):
    """The patient page's one-click token: issue, then show the slip, which opens the print dialog."""
    patient = get_object_or_404(visible_to(request.user), pk=patient_pk)
    form = IssueTokenForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose an open queue and a priority."))
        return redirect("patients:detail", pk=patient.pk)
    try:
        visit = services.issue_visit(patient=patient, **form.cleaned_data, issued_by=request.user)
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect("patients:detail", pk=patient.pk)
    return redirect(reverse("queues:slip", args=[visit.pk]) + "?print=1")


@role_required("queues.add_visit")
def register_and_issue(request):
    """Register a new walk-in patient and give them a token in the chosen queue in one submit (one transaction:
    `services.register_and_issue`); then the registered page, with Print slip for the MRN and the new token's slip
    in its panel. `?queue=<pk>` chooses the queue first (the desk page's link: one of the desk's queues)."""
    if not request.user.has_perm("patients.add_patient"):
        raise PermissionDenied(refusal("patients.add_patient"))
    form = RegisterAndIssueForm(request.POST or None, initial={"queue": request.GET.get("queue")})
    existing = None
    if request.method == "POST" and form.is_valid():
        try:
            visit = services.register_and_issue(
                registration=form.registration(), queue=form.cleaned_data["queue"],
                priority=form.cleaned_data["priority"], issued_by=request.user,
            )
        except DuplicatePatient as exc:
            existing = visible_to(request.user).filter(mrn=exc.mrn).first()  # the page links to the patient
            form.add_error("cnic", str(exc))
        except (ValidationError, DomainError) as exc:
            form.add_error(None, exc if isinstance(exc, ValidationError) else str(exc))
        else:
            return redirect("patients:registered", pk=visit.patient_id)
    context = {"form": form, "existing": existing, "mrn_formats": client_formats()}
    return render(request, "queues/register.html", context)


@role_required("queues.view_visit")
def slip(request, pk):
    """The token slip: token large, queue, position, estimated wait, and a QR of the patient's token page (the
    link, valid through the visit's day: `my_token_link`); prints on its own."""
    visits = of_visible(Visit.objects.select_related("queue", "patient"), request.user)  # slips name the patient
    (visit,) = selectors.with_positions([get_object_or_404(visits, pk=pk)])
    link = tokenlinks.absolute(request, my_token_link(visit))
    return render(request, "queues/slip.html", {"visit": visit, "qr_svg": qr.svg(link, border=2)})


def my_token_link(visit: Visit) -> str:
    """The path of `visit`'s token page, e.g. `/t/17.20261207:Xb3.../`: signed, valid through its day."""
    return reverse("queues:my-token", args=[tokenlinks.sign("visit", visit.pk, visit.visit_date)])


def _my_visit(key: str) -> Visit | None:
    """The visit a token page link names, or None for a forged or expired link."""
    pk = tokenlinks.unsign("visit", key)
    return Visit.objects.select_related("queue", "desk").filter(pk=pk).first() if pk else None


def _my_token_etag(request, key) -> str | None:
    visit = _my_visit(key)
    if visit is None:
        return None
    line = selectors.board_version(queue_ids=[visit.queue_id], visit_date=visit.visit_date)
    return f"{line}-{get_language()}"


def _my_token_context(visit: Visit) -> dict:
    (visit,) = selectors.with_positions([visit])
    minutes = visit.estimated_wait_minutes
    return {
        "visit": visit,
        "title": gettext("Token %(token)s") % {"token": visit.token},
        "call_at": timezone.localtime() + datetime.timedelta(minutes=minutes) if minutes is not None else None,
        "place": boards.place_in_language(visit.desk.name, get_language()) if visit.desk else "",
    }


@never_cache
def my_token(request, key):
    """The patient's own page for one visit, opened from the slip's QR with no login: token, place in line and
    estimated call time, then "Called: go to Room 2"; nothing else (no name, no MRN). It follows the visit by
    asking for `my_token_panel` every few seconds (static/js/follow.js). A forged or expired link: 404 page."""
    etag = _my_token_etag(request, key)  # before the page: see tokenlinks.page
    visit = _my_visit(key)
    if visit is None or etag is None:
        return tokenlinks.gone(request)
    return tokenlinks.page(request, panel_template="queues/_my_token.html",
                           panel_url=reverse("queues:my-token-panel", args=[key]), etag=etag,
                           context=_my_token_context(visit))


@never_cache
@condition(etag_func=_my_token_etag)
def my_token_panel(request, key):
    """The token page's changing part; 304 while the queue's line is unchanged (the board's ETag)."""
    visit = _my_visit(key)
    if visit is None:
        return tokenlinks.gone(request)
    return render(request, "queues/_my_token.html", _my_token_context(visit))


@role_required("queues.change_visit")
def desk(request, pk):
    """A desk's page: the patient at the desk with the step buttons, Call next, and today's list of its queues."""
    desk = get_object_or_404(Desk.objects.prefetch_related("queues"), pk=pk)
    today = timezone.localdate()
    visits = selectors.with_positions(
        Visit.objects.filter(queue__in=desk.queues.all(), visit_date=today)
        .select_related("queue", "patient", "desk")
        .order_by("queue_id", "token_number")
    )
    # The desk's patient as call_next sees it: any day, any queue, so a visit left at the desk can still be closed.
    current = (
        Visit.objects.select_related("queue", "patient", "desk")
        .filter(desk=desk, status__in=Visit.AT_DESK_STATUSES)
        .first()
    )
    waiting = sorted((v for v in visits if v.status == Visit.Status.WAITING), key=lambda v: (v.queue_id, v.position))
    others = [v for v in visits if v.status != Visit.Status.WAITING and v.pk != getattr(current, "pk", None)]
    return render(request, "queues/desk.html", {
        "desk": desk, "current": current, "waiting": waiting, "others": others,
        "transfer_form": TransferForm(), "today": today,
    })


@require_POST
@role_required("queues.change_visit")
def call_next(request, pk):
    """The desk page's Call next button; back to the desk page with what happened."""
    desk = get_object_or_404(Desk, pk=pk)
    _run(request, lambda: services.call_next(desk=desk, called_by=request.user),
         _("%(token)s called (%(name)s, %(mrn)s)."))
    return redirect("queues:desk", pk=desk.pk)


@require_POST
@role_required("queues.change_visit")
def step(request, pk, step):
    """One step button of the desk page (call again, start, complete, no-show, recall, cancel); back to the desk."""
    if step not in STEPS:
        raise Http404("No such step.")
    visit = get_object_or_404(Visit.objects.select_related("queue", "patient"), pk=pk)
    service, user_arg, done = STEPS[step]
    _run(request, partial(service, visit=visit, **{user_arg: request.user}), done)
    return _back_to_desk(request, visit)


@require_POST
@role_required("queues.change_visit")
def transfer(request, pk):
    """The desk page's Transfer button: a new token in the chosen queue; back to the desk page."""
    visit = get_object_or_404(Visit.objects.select_related("queue", "patient"), pk=pk)
    form = TransferForm(request.POST)
    if form.is_valid():
        to_queue = form.cleaned_data["queue"]
        _run(request, lambda: services.transfer_visit(visit=visit, to_queue=to_queue, transferred_by=request.user),
             _("%(token)s issued by transfer (%(name)s, %(mrn)s)."))
    else:
        messages.error(request, _("Choose an open queue to transfer to."))
    return _back_to_desk(request, visit)


def _run(request, action, done) -> None:
    """Run a service call and say what happened: `done` % {token, name, mrn} of the visit it returns (a DomainError
    becomes an error message)."""
    try:
        visit = action()
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        patient = visit.patient
        messages.success(request, done % {"token": visit.token, "name": patient.full_name, "mrn": patient.mrn})


def _back_to_desk(request, visit):
    desk_pk = request.POST.get("desk") or visit.desk_id
    return redirect("queues:desk", pk=desk_pk) if desk_pk else redirect("queues:index")


def _board_queues(request) -> list[Queue]:
    """The board's queues from `?queues=GEN,LAB` (all active ones when absent), after checking `?key=`.

    Raises PermissionDenied (403) for a missing or wrong key, Http404 for an unknown queue code.
    """
    if not hmac.compare_digest(request.GET.get("key", ""), board_key()):
        raise PermissionDenied("This board needs its key in the URL.")
    codes = [c.strip().upper() for c in request.GET.get("queues", "").split(",") if c.strip()]
    if not codes:
        return list(Queue.objects.filter(is_active=True))
    queues = {q.code: q for q in Queue.objects.filter(code__in=codes)}
    unknown = [c for c in codes if c not in queues]
    if unknown:
        raise Http404(f"No queue with code {', '.join(unknown)}.")
    return [queues[c] for c in codes]


def _board_sources(request) -> list[str]:
    """Other apps' calls the board shows, from `?sources=opd` (core.boards; unknown names are ignored)."""
    return [name for name in request.GET.get("sources", "").split(",") if name in boards.names()]


def _board_context(request) -> dict:
    queues = _board_queues(request)
    data = selectors.board(queues=queues, visit_date=timezone.localdate(), sources=_board_sources(request))
    latest = data["now"]
    recent = data["called"][1:] if latest else data["called"][:BOARD_RECENT]
    return {
        **data,
        "latest": latest,
        "latest_urdu": urdu_call(latest["token"], latest["desk"]) if latest else "",
        "recent": recent,
        "last_call": f"{latest['token']}@{latest['announced_at'].isoformat()}" if latest else "",
        # Milliseconds since the epoch of the call now shown: the board speaks a call only when this grows.
        "announced_ms": int(latest["announced_at"].timestamp() * 1000) if latest else 0,
    }


BOARD_RECENT = selectors.BOARD_CALLED - 1  # the last calls listed under "now calling"
def urdu_call(token: str, desk: str) -> str:
    """The call as the board's Urdu line shows it, e.g. `ٹوکن GEN-025 ← کمرہ 2`, in the hospital's Urdu digits
    (`ٹوکن GEN-۰۲۵ ← کمرہ ۲` with URDU_DIGITS=eastern)."""
    return urdu_digits(f"ٹوکن {token} ← {boards.urdu_place(desk)}")


def _board_etag(request, *args, **kwargs) -> str:
    return selectors.board_version(
        queue_ids=[q.pk for q in _board_queues(request)], visit_date=timezone.localdate(),
        sources=_board_sources(request),
    )


@never_cache
def board(request):
    """The waiting-room board: full screen, tokens only (no names), polls its panel every second; on a call or a
    call again it flashes, chimes and speaks the token (static/js/board.js). Needs no login, only `?key=` (see
    `board_key`); `?sources=opd` adds the doctors' rooms' calls, `?kiosk=1` keeps the sound on across reloads."""
    now = timezone.localtime()
    return render(request, "queues/board.html", {
        **_board_context(request),
        "panel_query": request.GET.urlencode(),
        # The clock shows the hospital's time whatever the TV's time zone or clock: server time and UTC offset.
        "server_ms": int(now.timestamp() * 1000),
        "utc_offset_minutes": int(now.utcoffset().total_seconds() // 60),
    })


@never_cache
@condition(etag_func=_board_etag)
def board_panel(request):
    """The board's changing part. Answers 304 while nothing changed (ETag from `selectors.board_version`), so
    polling every second costs one small query."""
    return render(request, "queues/_board_panel.html", _board_context(request))
