"""API URLs of terminals, mounted under /api/v1/."""

from django.urls import path

from terminals import api

urlpatterns = [
    path("terminals/utilisation/", api.UtilisationView.as_view(), name="terminal-utilisation"),
    path("terminals/<str:code>/leases/", api.LeaseView.as_view(), name="terminal-leases"),
    path("terminals/<str:code>/sync/", api.SyncView.as_view(), name="terminal-sync"),
]
