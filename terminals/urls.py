"""Page URLs of terminals: the offline registration page, its manifest and its service worker."""

from django.urls import path

from terminals import views

app_name = "terminals"

urlpatterns = [
    path("offline/sw.js", views.service_worker, name="service-worker"),
    path("offline/<str:code>/", views.offline_page, name="offline"),
    path("offline/<str:code>/manifest.webmanifest", views.manifest, name="manifest"),
]
