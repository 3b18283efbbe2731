"""Page URLs of tokens (reception): booking, slips, the daily report."""

from django.urls import path

from tokens import views

app_name = "tokens"

urlpatterns = [
    path("opd/book/", views.book, name="book"),
    path("opd/tokens/<uuid:pk>/", views.slip, name="slip"),
    path("opd/waiting/<uuid:pk>/", views.waiting, name="waiting"),
    path("opd/report/", views.report, name="report"),
    path("opd/report.csv", views.report_csv, name="report-csv"),
]
