"""API URLs of terminals, mounted under /api/v1/."""

urlpatterns = []
