"""Page URLs of queues."""

urlpatterns = []
