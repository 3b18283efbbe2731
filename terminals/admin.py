"""Terminals in the admin: their ranges (added here, never deleted), leases, utilisation, and API keys."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.utils.html import format_html

from terminals import selectors, services
from terminals.models import LabTerminal, TerminalLease, TerminalRange

# Background of the "% used" cell at each level (seed 001: act at 80 %, alert at 90 %).
LEVEL_STYLE = {"ok": "", "warning": "background:#fde68a", "critical": "background:#fca5a5;font-weight:bold"}


class TerminalRangeForm(forms.ModelForm):
    """A new range is checked by `services.check_range_placement` (an overlap names the other terminal); a saved
    range's bounds are fixed, since numbers of it may already be printed."""

    class Meta:
        model = TerminalRange
        fields = ["start", "end", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["start"].disabled = self.fields["end"].disabled = True

    def clean(self):
        data = super().clean()
        if not self.instance.pk and data.get("start") is not None and data.get("end") is not None:
            try:
                services.check_range_placement(start=data["start"], end=data["end"])
            except ValidationError as exc:
                # On the field, so the database constraints are not checked again with a vaguer message.
                self.add_error("start", exc)
        return data


class TerminalRangeInline(admin.TabularInline):
    model = TerminalRange
    form = TerminalRangeForm
    extra = 0
    can_delete = False
    fields = ["start", "end", "current", "used_of_total", "is_active", "from_pool", "created_by", "created_at",
              "switched_by", "switched_at"]
    readonly_fields = ["current", "used_of_total", "from_pool", "created_by", "created_at", "switched_by",
                       "switched_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by", "switched_by")  # not a query per row

    @admin.display(description="used / total")
    def used_of_total(self, obj):
        return f"{obj.used:,} / {obj.total:,} ({obj.percent_used:.1f} %)" if obj.pk else ""


class TerminalLeaseInline(admin.TabularInline):
    model = TerminalLease
    extra = 0
    can_delete = False
    fields = ["start", "end", "created_by", "created_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by")  # not a user query per row

    def has_add_permission(self, request, obj=None):
        return False  # leases are taken by terminals over the API


@admin.register(LabTerminal)
class LabTerminalAdmin(admin.ModelAdmin):
    """Seed 001's terminal table plus utilisation: used/total, % used (amber from 80 %, red from 90 %), remaining."""

    list_display = ["code", "name", "is_active", "ranges_shown", "current_shown", "used_of_total", "percent_used",
                    "remaining", "has_key"]
    list_filter = ["is_active"]
    search_fields = ["code", "name"]
    fields = ["code", "name", "is_active", "user", "created_at", "updated_at"]
    readonly_fields = ["user", "created_at", "updated_at"]
    inlines = [TerminalRangeInline, TerminalLeaseInline]
    actions = ["issue_key", "revoke_key"]

    def get_queryset(self, request):
        active = TerminalRange.objects.filter(is_active=True).order_by("start")
        return super().get_queryset(request).select_related("user__auth_token").prefetch_related(
            Prefetch("ranges", queryset=active, to_attr="active_ranges")
        )

    def has_delete_permission(self, request, obj=None):
        # History is kept: patients name their origin terminal; deactivate instead (is_active).
        return False

    def save_formset(self, request, form, formset, change):
        if formset.model is not TerminalRange:
            return super().save_formset(request, form, formset, change)
        for block in formset.save(commit=False):
            if block.pk:
                services.switch_range(block=block, is_active=block.is_active, by=request.user)
            else:
                services.add_range(terminal=form.instance, start=block.start, end=block.end, created_by=request.user)

    @admin.display(description="range(s)")
    def ranges_shown(self, obj):
        return ", ".join(str(r) for r in obj.active_ranges) or "-"

    @admin.display(description="current")
    def current_shown(self, obj):
        return ", ".join(str(r.current) for r in obj.active_ranges) or "-"

    @admin.display(description="used / total")
    def used_of_total(self, obj):
        shown = selectors.figures(obj.active_ranges)
        return f"{shown['used']:,} / {shown['total']:,}"

    @admin.display(description="% used")
    def percent_used(self, obj):
        shown = selectors.figures(obj.active_ranges)
        return format_html('<span style="{}">{} %</span>', LEVEL_STYLE[shown["level"]], f"{shown['percent']:.1f}")

    @admin.display(description="remaining")
    def remaining(self, obj):
        return f"{selectors.figures(obj.active_ranges)['remaining']:,}"

    @admin.display(description="API key", boolean=True)
    def has_key(self, obj):
        return bool(obj.user_id) and hasattr(obj.user, "auth_token")

    @admin.action(description="Issue a new API key (replaces the old one)")
    def issue_key(self, request, queryset):
        for terminal in queryset:
            key = services.issue_terminal_key(terminal=terminal)
            self.message_user(
                request, f"New key for {terminal.code} (shown once, configure it on the terminal): {key}",
                messages.SUCCESS,
            )

    @admin.action(description="Revoke API key")
    def revoke_key(self, request, queryset):
        revoked = [t.code for t in queryset if services.revoke_terminal_key(terminal=t)]
        self.message_user(request, f"Revoked the keys of: {', '.join(revoked) or 'none (no key was set)'}.")
