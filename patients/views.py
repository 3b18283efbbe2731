"""Reception pages for patients: register, find, view, print the slip."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from core.errors import DomainError
from core.pages import role_required
from patients import access, csv_io, duplicates, imports, merge, panels, services, slips, worklist
from patients.dob import parse_dob
from patients.exceptions import DuplicatePatient
from patients.forms import CorrectionForm, ImportForm, MergeForm, PatientForm, PatientSearchForm
from patients.history import corrections
from patients.models import DuplicatePair, ImportJob
from patients.mrn import client_formats
from patients.pagination import CappedPaginator
from patients.selectors import search_patients, visible_to


@login_required
def home(request):
    return render(request, "home.html")


@role_required("patients.add_patient")
def register(request):
    """GET shows the form; POST registers through the service and shows the new MRN.

    A CNIC already registered shows that patient as a link; a namesake without CNIC needs a confirmation tick.
    """
    carry_over = request.user.has_perm("patients.carry_over_mrn")
    if request.POST.get("mrn") and not carry_over:  # an admin grants carrying over numbers
        raise PermissionDenied(_("Your role may not register a patient under an existing MRN."))
    form = PatientForm(request.POST or None, carry_over=carry_over)
    existing = None
    if request.method == "POST" and form.is_valid():
        try:
            patient = services.register_patient(**form.registration(), created_by=request.user)
        except DuplicatePatient as exc:
            existing = visible_to(request.user).filter(mrn=exc.mrn).first()  # a terminal: only its own
            form.add_error("cnic", str(exc))
        except (ValidationError, DomainError) as exc:
            form.add_error(None, exc if isinstance(exc, ValidationError) else str(exc))
        else:
            return redirect("patients:registered", pk=patient.pk)
    return render(
        request, "patients/register.html", {"form": form, "existing": existing, "mrn_formats": client_formats()}
    )


@role_required("patients.view_patient")
def registered(request, pk):
    """The success page: the MRN large, the focus on Print slip (<kbd>P</kbd> from anywhere), and the patient
    page's panels (Issue token for each open queue). Part of the registration for the clerk who registered the
    patient; anyone else opening it reads the patient's details (an access record)."""
    patient = get_object_or_404(visible_to(request.user), pk=pk)
    if patient.created_by_id != request.user.pk:
        access.record_read(user=request.user, patient=patient, channel=access.Channel.PAGE)
    return render(request, "patients/registered.html", {
        "patient": patient, "slip": slips.Slip.of(patient),
        "panels": panels.render_all(request, patient),  # e.g. Issue token, so a walk-in needs no second page
    })


@role_required("patients.view_patient")
def patient_list(request):
    """Search page; htmx requests (typing in the box) get only the results table."""
    form = PatientSearchForm(request.GET)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    search = search_patients(query, visible_to(request.user))
    page = CappedPaginator(search.patients, 25).get_page(request.GET.get("page"))
    access.record_search(user=request.user, channel=access.Channel.PAGE, kind=search.kind, count=page.paginator.count)
    context = {"form": form, "page": page, "query": query, "hint": search.hint}
    if request.headers.get("HX-Request"):  # typing in the box: only the results table, no MRN rules to read
        return render(request, "patients/_results.html", context)
    return render(request, "patients/list.html", {**context, "mrn_formats": client_formats()})


@role_required("patients.view_patient")
def patient_detail(request, pk):
    """A patient's particulars and every correction made to them (who, when, what)."""
    patient = get_object_or_404(visible_to(request.user), pk=pk)
    access.record_read(user=request.user, patient=patient, channel=access.Channel.PAGE)
    context = {"patient": patient, "corrections": corrections(patient), "panels": panels.render_all(request, patient)}
    return render(request, "patients/detail.html", context)


@role_required("patients.change_patient")
def correct(request, pk):
    """Reception corrects a patient's demographics (the MRN is shown, never edited) through
    `services.update_patient`, the API's service; the page lists the corrections made so far."""
    patient = get_object_or_404(visible_to(request.user), pk=pk)
    if request.method != "POST":  # the form shows the particulars; a correction is a write, in the history
        access.record_read(user=request.user, patient=patient, channel=access.Channel.PAGE)
    form = CorrectionForm(request.POST or None, instance=patient)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_patient(patient, changed_by=request.user, **form.changes())
        except DuplicatePatient as exc:
            form.add_error("cnic", str(exc))
        except (ValidationError, DomainError) as exc:
            form.add_error(None, exc if isinstance(exc, ValidationError) else str(exc))
        else:
            done = _("Corrected %(mrn)s.") % {"mrn": patient.mrn} if form.changes() else _("Nothing changed.")
            messages.success(request, done)
            return redirect("patients:detail", pk=patient.pk)
    return render(request, "patients/correct.html", {
        "form": form, "patient": patient, "mrn": patient.mrn, "corrections": corrections(patient),
    })


@role_required("patients.view_patient")
def slip(request, pk):
    """The printable registration slip; `?paper=a4` or `a5` for a card (default 80 mm), `?print=1` opens the print
    dialog. The page size printed is the paper's (slips.PAPERS), so a receipt printer gets an 80 mm page."""
    patient = get_object_or_404(visible_to(request.user), pk=pk)
    access.record_read(user=request.user, patient=patient, channel=access.Channel.SLIP)
    paper = request.GET.get("paper") if request.GET.get("paper") in slips.PAPERS else slips.THERMAL
    slip_data = slips.Slip.of(patient)
    context = {
        "patient": patient,
        "slip": slip_data,
        "paper": paper,
        "papers": slips.PAPERS,
        "page_width": slips.PAPERS[paper][0],
        "page_height": slips.PAPERS[paper][1],
        "barcode": slips.barcode_svg(slip_data.mrn),
        "qr": slips.qr_svg(slip_data.mrn),
        "autoprint": request.GET.get("print") == "1",
    }
    return render(request, "patients/slip.html", context)


@role_required("patients.add_importjob")
def import_upload(request):
    """The import page: upload a CSV (columns as `manage.py import_patients`); it is checked at once and the
    summary shown on the job's page, from where it runs in the background."""
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = imports.check_upload(file_name=upload.name, data=upload.read(),
                                       skip_invalid=form.cleaned_data["skip_invalid"], created_by=request.user)
        except csv_io.BadFile as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("patients:import-job", pk=job.pk)
    return render(request, "patients/import.html", {"form": form, "jobs": ImportJob.objects.all()[:10]})


@role_required("patients.add_importjob")
def import_refused_csv(request, pk):
    """The job's invalid rows as a CSV download with a `reason` column (patients.imports.refused_rows_csv); back to
    the job's page with the reason when the stored file can no longer be read at all (its header, say)."""
    job = get_object_or_404(ImportJob, pk=pk)
    try:
        refused = imports.refused_rows_csv(job)
    except csv_io.BadFile as exc:
        messages.error(request, f"The file itself cannot be read, so there are no rows to download: {exc}")
        return redirect("patients:import-job", pk=job.pk)
    response = HttpResponse(refused, content_type="text/csv; charset=utf-8")
    name = job.file_name.rsplit(".", 1)[0] or "import"
    response["Content-Disposition"] = f'attachment; filename="{slugify(name) or "import"}-refused.csv"'
    return response


@role_required("patients.add_importjob")
def import_job(request, pk):
    """A job's validation summary, Run button, progress bar (polled) and result report. htmx polls get only the
    progress part."""
    job = get_object_or_404(ImportJob.objects.defer("csv_text"), pk=pk)
    if request.method == "POST":
        try:
            imports.start(job=job)
        except DomainError as exc:
            messages.error(request, str(exc))
        return redirect("patients:import-job", pk=job.pk)
    template = "patients/_import_progress.html" if request.headers.get("HX-Request") else "patients/import_job.html"
    return render(request, template, {"job": job})


HINT_FIELDS = ("full_name", "father_name", "sex", "phone", "cnic")
# The worklist's side-by-side rows: (label, translated on the page; field).
SIDE_BY_SIDE = [("Full name", "full_name"), ("Father's name", "father_name"), ("Date of birth", "dob"),
                ("Sex", "sex"), ("Phone", "phone"), ("CNIC", "cnic"), ("Address", "address"),
                ("Registered", "created_at")]
MAX_HINTS = 5


@role_required("patients.add_patient")
def likely(request):
    """The desk's hint while typing (htmx, from the registration form): up to MAX_HINTS registered patients likely
    to be the one typed, with MRN and why. Half-typed or unusable input (a date not yet whole) is ignored."""
    typed = {name: request.GET.get(name, "").strip()[:200] for name in HINT_FIELDS}
    try:
        dob = parse_dob(request.GET.get("dob", ""), timezone.localdate())
    except ValidationError:
        dob = None
    found = []
    if len(typed["full_name"]) >= 3:
        record = duplicates.Record(**typed, dob=dob and dob.date, dob_estimated=bool(dob and dob.estimated))
        patients = visible_to(request.user).filter(merged_into__isnull=True)
        found = duplicates.likely_duplicates(patients, record)[:MAX_HINTS]
    return render(request, "patients/_likely.html", {"found": found})


@role_required("patients.view_duplicatepair")
def duplicate_list(request):
    """The worklist: open pairs of likely duplicates, newest first."""
    page = Paginator(worklist.open_pairs(), 25).get_page(request.GET.get("page"))
    return render(request, "patients/duplicates.html", {"page": page})


@role_required("patients.view_duplicatepair")
def duplicate_pair(request, pk):
    """One pair side by side; POST decides it: "same patient" merges (needs patients.merge_patient), "not the
    same" is remembered (needs patients.change_duplicatepair). Refusals and races show as form errors."""
    pair = get_object_or_404(DuplicatePair.objects.select_related("low", "high"), pk=pk)
    versions = {"low_version": merge.version_of(pair.low), "high_version": merge.version_of(pair.high)}
    form = MergeForm(request.POST or None, pair=pair, initial=versions)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        needed = "patients.merge_patient" if data["decision"] == "merge" else "patients.change_duplicatepair"
        if not request.user.has_perm(needed):
            raise PermissionDenied(_("Your role may not decide duplicates."))
        try:
            if data["decision"] == "merge":
                survivor, other = (pair.low, pair.high) if data["survivor"] == str(pair.low_id) else (pair.high, pair.low)
                merge.merge_patients(
                    survivor=survivor, merged=other, reason=data["reason"], merged_by=request.user,
                    cnic_override=data["cnic_override"],
                    versions={pair.low_id: data["low_version"], pair.high_id: data["high_version"]},
                )
                done = _("%(other)s merged into %(survivor)s.") % {"other": other.mrn, "survivor": survivor.mrn}
                messages.success(request, done)
            else:
                worklist.mark_not_same(pair, decided_by=request.user)
                done = _("%(low)s and %(high)s: not the same patient.") % {"low": pair.low.mrn, "high": pair.high.mrn}
                messages.success(request, done)
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("patients:duplicates")
    rows = [(label, getattr(pair.low, name), getattr(pair.high, name)) for label, name in SIDE_BY_SIDE]
    return render(request, "patients/duplicate_pair.html", {"pair": pair, "form": form, "rows": rows})
