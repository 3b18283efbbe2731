"""API URLs of idseq, mounted under /api/v1/."""

urlpatterns = []
