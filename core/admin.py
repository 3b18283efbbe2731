"""Admin pieces shared by every app."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable by those with the view permission; nobody adds, changes or deletes rows here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
