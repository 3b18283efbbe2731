from django.urls import path

from patients import views

app_name = "patients"

urlpatterns = [
    path("", views.patient_list, name="list"),
    path("register/", views.register, name="register"),
    path("import/", views.import_upload, name="import"),
    path("likely/", views.likely, name="likely"),
    path("duplicates/", views.duplicate_list, name="duplicates"),
    path("duplicates/<int:pk>/", views.duplicate_pair, name="duplicate-pair"),
    path("import/<int:pk>/", views.import_job, name="import-job"),
    path("import/<int:pk>/refused.csv", views.import_refused_csv, name="import-refused"),
    path("<int:pk>/", views.patient_detail, name="detail"),
    path("<int:pk>/correct/", views.correct, name="correct"),
    path("<int:pk>/registered/", views.registered, name="registered"),
    path("<int:pk>/slip/", views.slip, name="slip"),
]
