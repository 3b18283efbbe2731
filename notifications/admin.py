from django.contrib import admin, messages

from core.admin import ReadOnlyAdmin
from notifications import delivery
from notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """The outbox, read-only: what was sent to whom, its delivery state, attempts and last error. Rows are written
    by the calls themselves; the one thing to do here is to send failed (or abandoned) rows again."""

    list_display = ["created_at", "kind", "number", "room", "patient", "adapter", "state", "attempts",
                    "next_attempt_at", "delivered_at", "last_error"]
    list_filter = ["state", "adapter", "kind", "created_at"]
    search_fields = ["number", "patient__mrn", "last_error"]
    list_select_related = ["patient"]
    date_hierarchy = "created_at"
    actions = ["send_again"]

    def has_send_again_permission(self, request):
        # Rows are never edited by hand, but who may change them (the admin role) may send them again.
        return request.user.has_perm("notifications.change_notification")

    @admin.action(description="Send again (failed rows, and rows whose worker died while sending)",
                  permissions=["send_again"])
    def send_again(self, request, queryset):
        count = delivery.send_again(queryset)
        self.message_user(request, f"{count} notification(s) will be sent again.", messages.SUCCESS)
