"""OPD tokens in the admin. Token numbers and places are read-only: tokens are booked, cancelled and ended only
through `tokens.services` (here as actions), so a number is never edited or reissued."""

from django.contrib import admin, messages

from core.errors import DomainError
from tokens import services
from tokens.models import Doctor, Slot, Token, WaitingListEntry


@admin.register(Doctor)
class DoctorAdmin(admin.ModelAdmin):
    list_display = ["name", "specialization", "created_at"]
    search_fields = ["name", "specialization"]


class TokenInline(admin.TabularInline):
    model = Token
    fields = ["token_number", "patient", "category", "status", "actual_time", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("slot__doctor", "patient")  # one query, not 3 per row

    def has_add_permission(self, request, obj=None):
        return False


DELAY_STEP_MINUTES = 15  # one press of the admin's delay action


@admin.register(Slot)
class SlotAdmin(admin.ModelAdmin):
    list_display = ["doctor", "start_time", "end_time", "max_capacity", "current_capacity", "emergency_overflow",
                    "status", "delay_minutes"]
    list_filter = ["status", "doctor"]
    date_hierarchy = "start_time"
    readonly_fields = ["current_capacity", "emergency_overflow", "delay_minutes", "created_at"]
    inlines = [TokenInline]
    actions = ["cancel_slots", "delay_slots"]

    def get_readonly_fields(self, request, obj=None):
        # Times and capacity are set once: changing them under booked tokens would break places and estimates.
        # A new slot is checked by model validation, constraints included (overlap, end after start).
        # Status and delay change through the cancel action and the delay API, which keep places and cascades right.
        fixed = ["doctor", "start_time", "end_time", "max_capacity", "status"]
        return self.readonly_fields + (fixed if obj else [])

    @admin.action(description="Cancel selected slots (their tokens are cancelled, numbers kept)")
    def cancel_slots(self, request, queryset):
        _each(request, queryset, lambda slot: services.cancel_slot(slot_id=slot.pk))

    @admin.action(description=f"Delay selected slots by {DELAY_STEP_MINUTES} more minutes (their patients are told)")
    def delay_slots(self, request, queryset):
        _each(request, queryset, _delay_more)

    def has_delete_permission(self, request, obj=None):
        return False


def _delay_more(slot) -> None:
    """`slot` runs DELAY_STEP_MINUTES later than now recorded (read again: an earlier slot of the same action may
    have pushed it), at most MAX_DELAY_MINUTES."""
    slot.refresh_from_db(fields=["delay_minutes"])
    services.delay_slot(slot_id=slot.pk,
                        delay_minutes=min(slot.delay_minutes + DELAY_STEP_MINUTES, services.MAX_DELAY_MINUTES))


@admin.register(Token)
class TokenAdmin(admin.ModelAdmin):
    list_display = ["token_number", "slot", "patient", "category", "status", "actual_time", "created_at", "booked_by",
                    "ended_by", "ended_at", "promoted_by"]
    list_filter = ["status", "category", "day", "doctor"]
    search_fields = ["patient__mrn", "patient__full_name"]
    readonly_fields = [f.name for f in Token._meta.fields]
    actions = ["cancel_tokens", "mark_no_shows", "complete_tokens"]

    def has_add_permission(self, request):
        return False  # booked through the booking page or the API, which take the slot's next number

    def has_delete_permission(self, request, obj=None):
        return False  # cancel instead: the number stays on the token

    @admin.action(description="Cancel selected tokens (promotes waiting patients)")
    def cancel_tokens(self, request, queryset):
        _each(request, queryset, lambda token: services.cancel_token(token_id=token.pk, by=request.user))

    @admin.action(description="Mark selected tokens as no-shows (promotes waiting patients)")
    def mark_no_shows(self, request, queryset):
        _each(request, queryset, lambda token: services.mark_no_show(token_id=token.pk, by=request.user))

    @admin.action(description="Mark selected tokens as completed now")
    def complete_tokens(self, request, queryset):
        _each(request, queryset, lambda token: services.complete_token(token_id=token.pk))


@admin.register(WaitingListEntry)
class WaitingListEntryAdmin(admin.ModelAdmin):
    list_display = ["slot", "patient", "category", "created_at", "booked_by"]
    list_filter = ["category"]
    search_fields = ["patient__mrn", "patient__full_name"]
    readonly_fields = ["slot", "patient", "category", "priority", "created_at", "booked_by"]

    def has_add_permission(self, request):
        return False  # a full slot's booking creates the entry


def _each(request, rows, act) -> None:
    """Apply a service to each selected row (each in its own transaction), reporting refusals as messages."""
    done = 0
    for row in rows.order_by("pk"):
        try:
            act(row)
            done += 1
        except DomainError as exc:
            messages.error(request, f"{row}: {exc}")
    messages.success(request, f"{done} done.")
