"""The project's URLs plus views that fail on purpose, for tests/core/test_errors.py."""

from django.db import OperationalError
from django.urls import path
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny

from config.urls import handler400, handler403, handler404, handler500, urlpatterns  # noqa: F401

DRIVER_TEXT = 'connection to server at "db.internal" (10.0.0.5), port 5432 failed: FATAL: database "tokenline"'


def broken_page(request):
    raise RuntimeError("a bug in a page")


@api_view(["GET"])
@permission_classes([AllowAny])
def broken_api(request):
    raise RuntimeError("a bug in the API")


@api_view(["GET"])
@permission_classes([AllowAny])
def database_down(request):
    raise OperationalError(DRIVER_TEXT)


urlpatterns = [
    path("broken/", broken_page),
    path("api/v1/broken/", broken_api),
    path("api/v1/database-down/", database_down),
    *urlpatterns,
]
