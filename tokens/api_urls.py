"""API URLs of tokens, mounted under /api/v1/."""

urlpatterns = []
