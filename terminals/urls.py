"""Page URLs of terminals."""

urlpatterns = []
