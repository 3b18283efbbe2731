"""API URLs of queues, mounted under /api/v1/."""

urlpatterns = []
