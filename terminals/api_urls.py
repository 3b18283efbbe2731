"""API URLs of terminals, mounted under /api/v1/."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from terminals import api

# patients' API (list, register, read, correct, slip) with offline bodies dispatched here; config/urls.py mounts it
# under /api/v1/ and seed 001's /api/.
patients_router = DefaultRouter(trailing_slash=True)
patients_router.include_root_view = False
patients_router.include_format_suffixes = False  # no `.json` twins: JSON only, and they answered 500
patients_router.register("patients", api.PatientViewSet, basename="patient")
patients_urls = patients_router.urls

urlpatterns = [
    path("terminals/", api.TerminalsView.as_view(), name="terminal-list"),
    path("terminals/utilisation/", api.UtilisationView.as_view(), name="terminal-utilisation"),
    path("terminals/<str:code>/leases/", api.LeaseView.as_view(), name="terminal-leases"),
    path("terminals/<str:code>/sync/", api.SyncView.as_view(), name="terminal-sync"),
]
