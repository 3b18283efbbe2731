"""API URLs of queues, mounted under /api/v1/."""

from rest_framework.routers import DefaultRouter

from queues.api import DeskViewSet, QueueViewSet, VisitViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.include_format_suffixes = False  # no `.json` twins: JSON is the only format, and they answered 500
router.register("queues", QueueViewSet, basename="queue")
router.register("desks", DeskViewSet, basename="desk")
router.register("visits", VisitViewSet, basename="visit")

urlpatterns = router.urls
