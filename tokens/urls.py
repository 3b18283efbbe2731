"""Page URLs of tokens."""

urlpatterns = []
