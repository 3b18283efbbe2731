"""Monitoring URLs, at the top level where load balancers and Prometheus look for them by default."""

from django.urls import path

from monitoring import views

urlpatterns = [
    path("health/", views.health, name="health"),
    path("health/live/", views.liveness, name="liveness"),
    path("metrics", views.metrics, name="metrics"),
]
