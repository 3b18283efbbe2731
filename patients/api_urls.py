from rest_framework.routers import DefaultRouter

from patients.api import PatientViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("patients", PatientViewSet, basename="patient")

urlpatterns = router.urls
