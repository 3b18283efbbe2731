"""Reception pages for OPD tokens: book into a slot and print the slip; the daily report with charts and CSV."""

from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from core.errors import DomainError
from core.pages import role_required
from patients.models import Patient
from tokens import reports, selectors, services
from tokens.forms import BookingForm, ReportForm, SlotPickForm
from tokens.models import Slot, WaitingListEntry


@role_required("tokens.add_token")
def book(request):
    """Choose a day and doctor (GET), then a slot with free places shown, the patient's MRN and a category (POST).
    A token goes to its slip; a full slot puts the patient on its waiting list and shows that slip instead."""
    day, doctor = SlotPickForm(request.GET).choice()
    slots = selectors.slots_on(day).exclude(status=Slot.Status.CANCELLED).annotate(waiting=Count("waiting_entries"))
    if doctor:
        slots = slots.filter(doctor=doctor)
    form = BookingForm(request.POST or None, slots=slots)
    if request.method == "POST" and form.is_valid():
        patient = Patient.objects.filter(mrn=form.cleaned_data["mrn"].strip()).first()
        if patient is None:
            form.add_error("mrn", "No patient has this MRN.")
        else:
            try:
                booked = services.book_token(
                    slot_id=form.cleaned_data["slot"].pk, patient=patient, category=form.cleaned_data["category"],
                    booked_by=request.user,
                )
            except (DomainError, ValidationError) as exc:
                form.add_error(None, exc.messages if isinstance(exc, ValidationError) else str(exc))
            else:
                if isinstance(booked, WaitingListEntry):
                    return redirect("tokens:waiting", pk=booked.pk)
                return redirect("tokens:slip", pk=booked.pk)
    pick = SlotPickForm(initial={"day": day, "doctor": doctor})
    return render(request, "tokens/book.html", {"pick": pick, "form": form, "slots": slots, "day": day,
                                                "doctor": doctor})


@role_required("tokens.view_token")
def slip(request, pk):
    """The token slip: number large, doctor, slot time, position and estimated time; print CSS hides the rest."""
    token = get_object_or_404(selectors.tokens_in_queue(), pk=pk)
    return render(request, "tokens/slip.html", {"token": token})


@role_required("tokens.view_waitinglistentry")
def waiting(request, pk):
    """The waiting-list slip: the slot was full; the patient's place on its waiting list."""
    entry = get_object_or_404(selectors.waiting_in_queue(), pk=pk)
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
