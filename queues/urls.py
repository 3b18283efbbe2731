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
]
