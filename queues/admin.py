from django.contrib import admin

from idseq.admin import ReadOnlyAdmin
from queues.models import Desk, Queue, Visit


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    """Queues are set up here. Deleting one with visits is refused (PROTECT): close it with is_active instead."""

    list_display = ["code", "name", "is_active", "default_service_minutes"]
    list_filter = ["is_active"]
    search_fields = ["code", "name"]


@admin.register(Desk)
class DeskAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active"]
    list_filter = ["is_active", "queues"]
    filter_horizontal = ["queues"]


@admin.register(Visit)
class VisitAdmin(ReadOnlyAdmin):
    """Visits are read here. Tokens are issued and steps taken only through the services (desk pages, API), so
    numbers come from idseq and every step records who took it."""

    list_display = ["__str__", "patient", "queue", "visit_date", "priority", "status", "desk", "issued_at"]
    list_filter = ["queue", "status", "priority", "visit_date"]
    search_fields = ["patient__mrn", "patient__full_name"]
    date_hierarchy = "visit_date"
    list_select_related = ["queue", "patient", "desk"]
    raw_id_fields = ["patient", "transferred_from"]
