from django.contrib import admin

from idseq.models import Counter


@admin.register(Counter)
class CounterAdmin(admin.ModelAdmin):
    """Counters are read-only here: moving one by hand could issue a printed number twice."""

    list_display = ["key", "last_value", "updated_at"]
    search_fields = ["key"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
