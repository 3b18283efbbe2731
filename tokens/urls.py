"""Page URLs of tokens (reception): booking, slips, waiting lists, the doctor's room, the daily report."""

from django.urls import path

from tokens import views

app_name = "tokens"

urlpatterns = [
    path("opd/book/", views.book, name="book"),
    path("opd/tokens/<uuid:pk>/", views.slip, name="slip"),
    path("opd/waiting/<uuid:pk>/", views.waiting, name="waiting"),
    path("opd/slots/<uuid:pk>/waiting/", views.slot_waiting, name="slot-waiting"),
    path("opd/waiting/<uuid:pk>/<slug:step>/", views.waiting_step, name="waiting-step"),
    path("opd/room/", views.rooms, name="rooms"),
    path("opd/room/<uuid:pk>/", views.room, name="room"),
    path("opd/room/slots/<uuid:pk>/call-next/", views.room_call_next, name="room-call-next"),
    path("opd/room/tokens/<uuid:pk>/<slug:step>/", views.room_step, name="room-step"),
    path("opd/report/", views.report, name="report"),
    path("opd/report.csv", views.report_csv, name="report-csv"),
    # The patient's token page: the link on the slip's QR is the key (core/tokenlinks.py), no login.
    path("opd/t/<str:key>/", views.my_token, name="my-token"),
    path("opd/t/<str:key>/panel/", views.my_token_panel, name="my-token-panel"),
    path("opd/t/<str:key>/here/", views.my_token_here, name="my-token-here"),
    # The QR at the entrance: the token page this phone opened today; and the sign to print for it.
    path("opd/here/", views.entrance, name="entrance"),
    path("opd/entrance/", views.entrance_poster, name="entrance-poster"),
]
