"""Reception pages for OPD tokens: book into a slot and print the slip; a slot's waiting list; the doctor's room
(call, start, complete, no-show); the daily report with charts and CSV.

Writes go through `tokens.services`; a DomainError becomes a message on the page it came from, never a 500."""

import datetime
import uuid

from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpResponse
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import condition, require_POST

from core import boards, qr, tokenlinks
from core.errors import DomainError
from core.pages import role_required
from patients.selectors import of_visible
from tokens import reports, selectors, services
from tokens.forms import BookingForm, ReportForm, RoomPickForm, SlotPickForm
from tokens.models import Category, Doctor, Slot, Token, WaitingListEntry


@role_required("tokens.add_token")
def book(request):
    """Choose a day and doctor (GET), then a slot with free places shown, the patient (MRN any way, name or phone)
    and a category (POST). A token goes to its slip. A full slot first asks whether to put the patient on its
    waiting list (`waitlist`); yes shows the waiting-list slip."""
    day, doctor = SlotPickForm(request.GET).choice()
    slots = (
        selectors.slots_on(day).exclude(status=Slot.Status.CANCELLED).annotate(waiting=Count("waiting_entries"))
        .order_by("start_time", "doctor__name")  # a GROUP BY query ignores Meta.ordering
    )
    if doctor:
        slots = slots.filter(doctor=doctor)
    form = BookingForm(request.POST or None, slots=slots, user=request.user)
    full = None
    if request.method == "POST" and form.is_valid():
        try:
            booked = services.book_token(
                slot_id=form.cleaned_data["slot"].pk, patient=form.cleaned_data["found"],
                category=form.cleaned_data["category"], waitlist=form.cleaned_data["waitlist"], booked_by=request.user,
            )
        except services.SlotFull as exc:
            full = exc
        except (DomainError, ValidationError) as exc:
            form.add_error(None, exc.messages if isinstance(exc, ValidationError) else str(exc))
        else:
            if isinstance(booked, WaitingListEntry):
                return redirect("tokens:waiting", pk=booked.pk)
            return redirect("tokens:slip", pk=booked.pk)
    pick = SlotPickForm(initial={"day": day, "doctor": doctor})
    now = timezone.now()
    rows = list(slots)
    for slot in rows:
        slot.over = slot.is_over(now)  # greyed out and not selectable; the form refuses it too
    return render(request, "tokens/book.html", {"pick": pick, "form": form, "slots": rows, "day": day,
                                                "doctor": doctor, "full": full})


@role_required("tokens.view_token")
def slip(request, pk):
    """The token slip: number large, doctor, slot time, position and estimated time, and a QR of the patient's
    token page (valid through the slot's day: `my_token_link`); print CSS hides the rest."""
    token = get_object_or_404(of_visible(selectors.tokens_in_queue(), request.user), pk=pk)
    link = tokenlinks.absolute(request, my_token_link(token))
    return render(request, "tokens/slip.html", {"token": token, "qr_svg": qr.svg(link, border=2)})


def my_token_link(token: Token) -> str:
    """The path of `token`'s page, e.g. `/opd/t/<32 hex>.20261207:Xb3.../`: signed, valid through its day."""
    return reverse("tokens:my-token", args=[tokenlinks.sign("opd", token.pk, token.day)])


def _my_token(key: str) -> Token | None:
    """The OPD token a token page link names (with position and estimated time), or None for a forged or expired
    link."""
    pk = tokenlinks.unsign("opd", key)
    return selectors.tokens_in_queue().filter(pk=_uuid_or_none(pk)).first() if pk else None


def _my_token_etag(request, key) -> str | None:
    token = _my_token(key)
    return f"{selectors.board_version(token.day)}-{get_language()}" if token else None


def _my_token_context(token: Token) -> dict:
    return {
        "token": token,
        "title": gettext("OPD token %(number)s") % {"number": token.token_number},
        "place": boards.place_in_language(token.doctor.name, get_language()),
        "today": timezone.localdate(),
    }


@never_cache
def my_token(request, key):
    """The patient's own page for one OPD token, opened from the slip's QR with no login: number, doctor, place
    and estimated time, "I am here" (check-in) on the token's day, then "Called: go to <doctor>"; no name, no MRN.
    It follows the token like the board (static/js/follow.js asks for `my_token_panel`). Forged or expired: 404."""
    etag = _my_token_etag(request, key)  # before the page: see tokenlinks.page
    token = _my_token(key)
    if token is None or etag is None:
        return tokenlinks.gone(request)
    response = tokenlinks.page(request, panel_template="tokens/_my_token.html",
                               panel_url=reverse("tokens:my-token-panel", args=[key]), etag=etag,
                               context={**_my_token_context(token), "key": key})
    # The phone remembers the token pages it opened today, for the entrance's QR (`entrance`).
    keys = [key, *(k for k in _remembered(request) if k != key)][:REMEMBERED]
    response.set_cookie(ENTRANCE_COOKIE, "~".join(keys), max_age=24 * 3600, path="/opd/", httponly=True,
                        samesite="Lax", secure=request.is_secure())
    return response


ENTRANCE_COOKIE = "tokenline_opd"  # the keys of the OPD token pages this phone opened, newest first, "~" between
REMEMBERED = 4  # a patient seeing several doctors in a day; more would only lengthen the cookie


def _remembered(request) -> list[str]:
    return [key for key in request.COOKIES.get(ENTRANCE_COOKIE, "").split("~") if key]


@never_cache
def entrance(request):
    """What the QR at the OPD entrance opens on a patient's phone: the token page of today's token this phone has
    opened (from its slip's QR), where "I am here" checks it in; a choice when it opened several; else a page saying
    to scan the slip's QR first. No login; links that no longer open (forged, expired, ended) are left out."""
    today = timezone.localdate()
    tokens = [(key, token) for key in _remembered(request) if (token := _my_token(key)) is not None
              and token.day == today and token.status == Token.Status.CONFIRMED]
    if len(tokens) == 1:
        return redirect("tokens:my-token", key=tokens[0][0])
    return render(request, "tokens/entrance.html", {"tokens": tokens, "title": gettext("I am here")})


@role_required("tokens.view_token")
def entrance_poster(request):
    """A printable sign for the OPD entrance: a large QR of `entrance` (under TOKEN_PAGE_BASE_URL when set)."""
    link = tokenlinks.absolute(request, reverse("tokens:entrance"))
    return render(request, "tokens/entrance_poster.html", {"qr_svg": qr.svg(link), "link": link})


@never_cache
@condition(etag_func=_my_token_etag)
def my_token_panel(request, key):
    """The token page's changing part; 304 while the day's OPD tokens are unchanged (the board's ETag)."""
    token = _my_token(key)
    if token is None:
        return tokenlinks.gone(request)
    return render(request, "tokens/_my_token.html", {**_my_token_context(token), "key": key})


@require_POST
def my_token_here(request, key):
    """The token page's "I am here": checks the token in (`services.check_in`, idempotent) and shows the page
    again. A token that can no longer check in (ended, another day) gets the page with the reason."""
    token = _my_token(key)
    if token is None:
        return tokenlinks.gone(request)
    try:
        services.check_in(token_id=token.pk)
    except DomainError:
        pass  # the page shows the token's state (ended, or another day), which says what to do
    return redirect("tokens:my-token", key=key)


@role_required("tokens.view_waitinglistentry")
def waiting(request, pk):
    """The waiting-list slip: the slot was full; the patient's place on its waiting list."""
    entry = get_object_or_404(of_visible(selectors.waiting_in_queue(), request.user), pk=pk)
    return render(request, "tokens/waiting.html", {"entry": entry})


@role_required("tokens.view_token")
def report(request):
    """The daily report: the API's figures per doctor and in total, charts, and a CSV link."""
    form = ReportForm(request.GET)
    figures = reports.daily_report(**_report_choice(form))
    keys = [key for key, _ in reports.COLUMNS]
    return render(request, "tokens/report.html", {
        "form": form,
        "report": figures,
        "day": datetime.date.fromisoformat(figures["date"]),
        "category_labels": dict(Category.choices),  # charts say "Priority (paid)", not PRIORITY_PAID
        "labels": [label for _, label in reports.COLUMNS],
        "rows": [(row["doctor_name"], [row[key] for key in keys]) for row in figures["doctors"]],
        "total": [figures["total"][key] for key in keys],
    })


@role_required("tokens.view_token")
def report_csv(request):
    """The daily report as a CSV download (same query as the page)."""
    figures = reports.daily_report(**_report_choice(ReportForm(request.GET)))
    response = HttpResponse(reports.report_csv(figures), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="opd-report-{figures["date"]}.csv"'
    return response


def _report_choice(form: ReportForm) -> dict:
    data = form.cleaned_data if form.is_valid() else {}
    return reports.report_args(date=data.get("date"), doctor_id=getattr(data.get("doctor"), "pk", None))


@role_required("tokens.view_waitinglistentry")
def slot_waiting(request, pk):
    """A slot's waiting list in order (seed 002's rule), each entry with Promote and Cancel."""
    slot = get_object_or_404(Slot.objects.select_related("doctor"), pk=pk)
    entries = selectors.waiting_in_queue().filter(slot=slot).order_by("waiting_position")
    return render(request, "tokens/slot_waiting.html", {"slot": slot, "entries": entries})


@require_POST
@role_required("tokens.delete_token")
def waiting_step(request, pk, step):
    """Promote (seat now if a place is free) or cancel a waiting-list entry; back to the slot's waiting list."""
    entry = get_object_or_404(WaitingListEntry.objects.select_related("patient"), pk=pk)
    if step == "promote":
        done = _run(request, lambda: services.promote_waiting_entry(entry_id=entry.pk))
        if done:
            got = _("%(name)s got token %(number)s.")
            messages.success(request, got % {"name": entry.patient.full_name, "number": done.token_number})
    elif step == "cancel":
        if _run(request, lambda: services.cancel_waiting_entry(entry_id=entry.pk)):
            messages.success(request, _("%(name)s is off the waiting list.") % {"name": entry.patient.full_name})
    else:
        raise Http404("No such step.")
    return redirect("tokens:slot-waiting", pk=entry.slot_id)


@role_required("tokens.change_token")
def rooms(request):
    """Choose the doctor whose room page to open."""
    form = RoomPickForm(request.GET or None)
    if form.is_valid():
        return redirect("tokens:room", pk=form.cleaned_data["doctor"].pk)
    return render(request, "tokens/rooms.html", {"form": form})


# The room page's token buttons: step -> (service, past tense for the message).
ROOM_STEPS = {
    "call-again": (services.call_token_again, _("Token %(number)s called again (%(name)s).")),
    "start": (services.start_token, _("Token %(number)s started (%(name)s).")),
    "complete": (services.complete_token, _("Token %(number)s completed (%(name)s).")),
    "no-show": (
        lambda token_id: services.mark_no_show(token_id=token_id)[0], _("Token %(number)s marked no-show (%(name)s).")
    ),
    "check-in": (services.check_in, _("Token %(number)s checked in (%(name)s).")),
}


def _room_etag(request, pk) -> str:
    """The room page's ETag: the OPD tokens' version of today (the board's) and which slot is asked for."""
    return f'{selectors.board_version(timezone.localdate())}-{pk}-{request.GET.get("slot", "")}'


@never_cache
@role_required("tokens.change_token")
@condition(etag_func=_room_etag)
def room(request, pk):
    """The doctor's room: today's slots of one doctor, the current one (`?slot=` picks another, of any day) with
    the token in the room, Call next, Call again, Start, Complete, No-show, and the slot's queue in order.

    The page refreshes itself the way the board does (static/js/poll.js): it asks every 2 s with its ETag and an
    unchanged room costs a 304; any booking, call or step of the day's OPD tokens changes the ETag."""
    doctor = get_object_or_404(Doctor, pk=pk)
    chosen = Slot.objects.filter(doctor=doctor, pk=_uuid_or_none(request.GET.get("slot"))).first()
    day = chosen.day if chosen else timezone.localdate()
    today = list(selectors.slots_on(day).filter(doctor=doctor).order_by("start_time"))
    slot = chosen or selectors.current_slot(today, timezone.now())
    queue = list(selectors.slot_queue(slot)) if slot else []
    return render(request, "tokens/room.html", {
        "doctor": doctor, "slots": today, "slot": slot, "queue": queue,
        "current": next((t for t in queue if t.status == Token.Status.CONFIRMED and t.called_at), None),
        "waiting": sum(1 for t in queue if t.status == Token.Status.CONFIRMED and not t.called_at),
    })


@require_POST
@role_required("tokens.change_token")
def room_call_next(request, pk):
    """The room's Call next: the slot's next token in priority order; back to the room on that slot."""
    slot = get_object_or_404(Slot, pk=pk)
    token = _run(request, lambda: services.call_next_token(slot_id=slot.pk, called_by=request.user))
    if token:
        message = _("Token %(number)s called (%(name)s).")
        messages.success(request, message % {"number": token.token_number, "name": token.patient.full_name})
    return _back_to_room(slot)


@require_POST
@role_required("tokens.change_token")
def room_step(request, pk, step):
    """Call again, Start, Complete, No-show of the token in the room, or Check in of a token in the slot's queue
    (the patient arrived at the desk); back to the room on its slot."""
    if step not in ROOM_STEPS:
        raise Http404("No such step.")
    token = get_object_or_404(Token.objects.select_related("slot", "patient"), pk=pk)
    service, done = ROOM_STEPS[step]
    if _run(request, lambda: service(token_id=token.pk)):
        messages.success(request, done % {"number": token.token_number, "name": token.patient.full_name})
    return _back_to_room(token.slot)


def _uuid_or_none(text):
    try:
        return uuid.UUID(text or "")
    except ValueError:
        return None


def _back_to_room(slot: Slot):
    return redirect(f"{reverse('tokens:room', args=[slot.doctor_id])}?slot={slot.pk}")


def _run(request, action):
    """Run a service call; a DomainError becomes an error message and the result None."""
    try:
        return action()
    except DomainError as exc:
        messages.error(request, str(exc))
        return None
