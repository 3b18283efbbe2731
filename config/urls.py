"""Top-level URLs. Each app owns its pages (`<app>/urls.py`) and its API (`<app>/api_urls.py`, under /api/v1/);
patients' API is mounted through terminals, which extends it with offline registration."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.auth import LoginView, LogoutView, TokenView
from patients import views as patient_views
from terminals import api_urls as terminals_api_urls

api_v1 = [
    path("auth/token/", TokenView.as_view(), name="api-token"),
    path("auth/logout/", LogoutView.as_view(), name="api-logout"),
    # patients' API, with terminals' offline bodies dispatched on the same seed paths (terminals -> patients)
    path("", include(terminals_api_urls.patients_urls)),
    path("", include("idseq.api_urls")),
    path("", include("terminals.api_urls")),
    path("", include("queues.api_urls")),
    path("", include("tokens.api_urls")),
]

urlpatterns = [
    path("", include("monitoring.urls")),  # /health/ and /metrics
    path("", patient_views.home, name="home"),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("patients/", include("patients.urls")),
    path("", include("terminals.urls")),
    path("", include("queues.urls")),
    path("", include("tokens.urls")),
    path("", include("today.urls")),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the language switch in the top bar
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    # Seed 001 terminals post to /api/patients/; the same endpoints answer there.
    path("api/", include(terminals_api_urls.patients_urls)),
    path("fhir/", include("fhir_api.urls")),  # FHIR R4
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", login_required(SpectacularSwaggerView.as_view(url_name="schema")), name="api-docs"),
]

# Error pages: styled for people, JSON under /api/ (core/views.py).
handler400 = "core.views.bad_request"
handler403 = "core.views.permission_denied"
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"
