"""API URLs of tokens, mounted under /api/v1/: seed 002's paths exactly."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from tokens import api

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.include_format_suffixes = False  # no `.json` twins: JSON is the only format, and they answered 500
router.register("doctors", api.DoctorViewSet, basename="doctor")
router.register("slots", api.SlotViewSet, basename="slot")
router.register("tokens", api.TokenViewSet, basename="token")
router.register("waiting-list", api.WaitingListViewSet, basename="waiting-list")

urlpatterns = [
    path("reports/daily/", api.DailyReportView.as_view(), name="report-daily"),
    *router.urls,
]
