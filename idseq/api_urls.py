"""API URLs of idseq, mounted under /api/v1/."""

from rest_framework.routers import DefaultRouter

from idseq.api import SequenceViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.include_format_suffixes = False  # no `.json` twins: JSON is the only format, and they answered 500
router.register("sequences", SequenceViewSet, basename="sequence")

urlpatterns = router.urls
