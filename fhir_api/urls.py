"""FHIR endpoints, mounted at /fhir/ by config/urls.py. FHIR paths have no trailing slash."""

from django.urls import path

from fhir_api import views

urlpatterns = [
    path("metadata", views.MetadataView.as_view(), name="fhir-metadata"),
    path("Patient", views.PatientSearchView.as_view(), name="fhir-patient-search"),
    path("Patient/<str:pk>", views.PatientReadView.as_view(), name="fhir-patient-read"),
]
