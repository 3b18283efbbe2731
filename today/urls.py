"""Page URLs of the manager's day."""

from django.urls import path

from today import views

app_name = "today"

urlpatterns = [
    path("today/", views.day, name="day"),
    path("today.csv", views.day_csv, name="day-csv"),
]
