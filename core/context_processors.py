"""Template context shared by every reception page."""

from django.conf import settings


def hospital(request):
    """Expose the hospital's display name (setting `HOSPITAL_NAME`) as `hospital_name`."""
    return {"hospital_name": settings.HOSPITAL_NAME}
