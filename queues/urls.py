"""Page URLs of queues, mounted at the site root."""

from django.urls import path

from queues import views

app_name = "queues"

urlpatterns = [
    path("queues/", views.index, name="index"),
    path("queues/issue/<int:patient_pk>/", views.issue, name="issue"),
    path("queues/register/", views.register_and_issue, name="register"),
    path("queues/visits/<int:pk>/slip/", views.slip, name="slip"),
    path("queues/visits/<int:pk>/transfer/", views.transfer, name="transfer"),
    path("queues/visits/<int:pk>/<slug:step>/", views.step, name="step"),
    path("queues/desks/<int:pk>/", views.desk, name="desk"),
    path("queues/desks/<int:pk>/call-next/", views.call_next, name="call-next"),
    path("board/", views.board, name="board"),
    path("board/panel/", views.board_panel, name="board-panel"),
    # The patient's token page: the link on the slip's QR is the key (core/tokenlinks.py), no login.
    path("t/<str:key>/", views.my_token, name="my-token"),
    path("t/<str:key>/panel/", views.my_token_panel, name="my-token-panel"),
]
