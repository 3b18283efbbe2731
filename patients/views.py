"""Reception pages for patients: register, find, view."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render

from config.pages import role_required
from idseq.exceptions import SequenceExhausted
from patients import services
from patients.forms import PatientForm, PatientSearchForm
from patients.models import Patient
from patients.selectors import search_patients


@login_required
def home(request):
    return render(request, "home.html")


@role_required("patients.add_patient")
def register(request):
    """GET shows the form; POST registers through the service and shows the new MRN."""
    form = PatientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            patient = services.register_patient(**form.cleaned_data, created_by=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        except SequenceExhausted as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("patients:registered", pk=patient.pk)
    return render(request, "patients/register.html", {"form": form})


@role_required("patients.view_patient")
def registered(request, pk):
    """The success page: the MRN large, with a print button (print CSS hides the rest)."""
    patient = get_object_or_404(Patient, pk=pk)
    return render(request, "patients/registered.html", {"patient": patient})


@role_required("patients.view_patient")
def patient_list(request):
    form = PatientSearchForm(request.GET)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    page = Paginator(search_patients(query), 25).get_page(request.GET.get("page"))
    return render(request, "patients/list.html", {"form": form, "page": page, "query": query})


@role_required("patients.view_patient")
def patient_detail(request, pk):
    patient = get_object_or_404(Patient, pk=pk)
    return render(request, "patients/detail.html", {"patient": patient})
