"""Terminals in the admin: their ranges (added here, never deleted), leases, utilisation, API keys, and
the ops view of each terminal and the offline incidents page."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from knox.models import AuthToken

from core.admin import ReadOnlyAdmin
from core.errors import DomainError
from terminals import devices, incidents, queries, services
from terminals.models import (
    LabTerminal, LeaseHandover, OfflineIncident, RefusedRegistration, SkewedRegistration, TerminalDevice,
    TerminalLease, TerminalRange,
)

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
        # Not a query per row (the reservation holds the range's cursor: `current`, used).
        return super().get_queryset(request).select_related("created_by", "switched_by", "reservation")

    @admin.display(description="used / total")
    def used_of_total(self, obj):
        return f"{obj.used:,} / {obj.total:,} ({obj.percent_used:.1f} %)" if obj.pk else ""


class TerminalLeaseInline(admin.TabularInline):
    model = TerminalLease
    extra = 0
    can_delete = False
    fields = ["start", "end", "device_id", "used_unused", "high_water", "printed_unsynced", "reported_at",
              "on_hold_at", "hold_mark", "created_by", "created_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        # Each lease with its synced count and high-water mark (terminals.devices), and not a user query per row.
        return devices.with_marks(super().get_queryset(request).select_related("created_by"))

    @admin.display(description="used / unused")
    def used_unused(self, obj):
        state = devices.lease_state(obj)
        return f"{state['used']:,} / {state['unused']:,} ({state['synced']:,} synced)"

    @admin.display(description="printed / synced / unsynced")
    def printed_unsynced(self, obj):
        """As its machine last reported (every contact); STALE in red when unsynced and unreported too long."""
        state = devices.lease_state(obj)
        if state["printed"] is None:
            return "- (never reported)"
        shown = f"{state['printed']:,} / {state['synced']:,} / {state['unsynced']:,}"
        return format_html('<span style="{}">{}{}</span>', LEVEL_STYLE["critical"] if state["stale"] else "", shown,
                           " STALE" if state["stale"] else "")

    @admin.display(description="high-water mark")
    def high_water(self, obj):
        return devices.lease_state(obj)["high_water"] or "-"

    def has_add_permission(self, request, obj=None):
        return False  # leases are taken by terminals over the API


@admin.register(LabTerminal)
class LabTerminalAdmin(admin.ModelAdmin):
    """Seed 001's terminal table plus utilisation: used/total, % used (amber from 80 %, red from 90 %), remaining."""

    list_display = ["code", "name", "is_active", "ranges_shown", "current_shown", "used_of_total", "percent_used",
                    "remaining", "has_key", "last_contact_at", "last_sync_at", "unsynced", "refused",
                    "clock", "open_incidents"]
    list_filter = ["is_active"]
    search_fields = ["code", "name"]
    fields = ["code", "name", "is_active", "user", "browser_users", "created_at", "updated_at", "last_contact_at", "last_sync_at",
              "unsynced", "refused", "clock", "open_incidents"]
    readonly_fields = ["user", "created_at", "updated_at", "last_contact_at", "last_sync_at", "unsynced",
                       "refused", "clock", "open_incidents"]
    filter_horizontal = ["browser_users"]
    inlines = [TerminalRangeInline, TerminalLeaseInline]
    actions = ["issue_key", "revoke_key"]

    def get_queryset(self, request):
        active = TerminalRange.objects.filter(is_active=True).select_related("reservation").order_by("start")
        # The latest expiry of the terminal's keys (several while a replaced one is in its grace period).
        key_expires = AuthToken.objects.filter(user=OuterRef("user_id")).order_by(F("expiry").desc(nulls_first=True))
        return super().get_queryset(request).select_related("user").prefetch_related(
            Prefetch("ranges", queryset=active, to_attr="active_ranges")
        ).annotate(incidents_open=Count("incidents", filter=Q(incidents__resolved_at__isnull=True), distinct=True),
                   refusals_held=Count("refusals", distinct=True),
                   key_expires=Subquery(key_expires.values("expiry")[:1]),
                   has_token=Exists(AuthToken.objects.filter(user=OuterRef("user_id"))))

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
        shown = queries.figures(obj.active_ranges)
        return f"{shown['used']:,} / {shown['total']:,}"

    @admin.display(description="% used")
    def percent_used(self, obj):
        shown = queries.figures(obj.active_ranges)
        return format_html('<span style="{}">{} %</span>', LEVEL_STYLE[shown["level"]], f"{shown['percent']:.1f}")

    @admin.display(description="remaining")
    def remaining(self, obj):
        return f"{queries.figures(obj.active_ranges)['remaining']:,}"

    @admin.display(description="printed, not synced")
    def unsynced(self, obj):
        """Numbers its machines reported printed that no stored registration carries yet (server state)."""
        return sum(lease["unsynced"] or 0 for lease in devices.lease_states(obj))

    @admin.display(description="refused, not resent")
    def refused(self, obj):
        """Registrations the server refused and no later sync stored (server state, terminals.devices)."""
        return obj.refusals_held if hasattr(obj, "refusals_held") else obj.refusals.count()

    @admin.display(description="clock skew")
    def clock(self, obj):
        """The terminal's clock minus the server's at its latest contact; red over 10 minutes."""
        if obj.clock_skew_seconds is None:
            return "-"
        style = LEVEL_STYLE["critical"] if devices.skewed(obj.clock_skew_seconds) else ""
        return format_html('<span style="{}">{} s</span>', style, f"{obj.clock_skew_seconds:+d}")

    @admin.display(description="open incidents")
    def open_incidents(self, obj):
        if not obj.incidents_open:
            return 0
        url = reverse("admin:terminals_offlineincident_changelist") + f"?terminal__id__exact={obj.pk}&open=yes"
        return format_html('<a href="{}" style="{}">{}</a>', url, LEVEL_STYLE["critical"], obj.incidents_open)

    @admin.display(description="API key valid until")
    def has_key(self, obj):
        if not obj.has_token:
            return "no key"
        return date_format(timezone.localtime(obj.key_expires), "DATETIME_FORMAT") if obj.key_expires else "no end"

    @admin.action(description="Issue a new API key (the old one works for the grace period)")
    def issue_key(self, request, queryset):
        grace = settings.TOKENLINE_KEY_GRACE_HOURS
        for terminal in queryset:
            key = services.issue_terminal_key(terminal=terminal)
            self.message_user(
                request, f"New key for {terminal.code} (shown once, configure it on the terminal): {key} "
                         f"— the previous key keeps working for {grace:g} hour(s).",
                messages.SUCCESS,
            )

    @admin.action(description="Revoke API key")
    def revoke_key(self, request, queryset):
        revoked = [t.code for t in queryset if services.revoke_terminal_key(terminal=t)]
        self.message_user(request, f"Revoked the keys of: {', '.join(revoked) or 'none (no key was set)'}.")


class OpenFilter(admin.SimpleListFilter):
    """Open incidents first: the default view of the page is what still needs someone."""

    title = "status"
    parameter_name = "open"

    def lookups(self, request, model_admin):
        return [("yes", "open"), ("no", "resolved"), ("all", "all")]

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {"selected": (self.value() or "yes") == lookup, "display": title,
                   "query_string": changelist.get_query_string({self.parameter_name: lookup})}

    def queryset(self, request, queryset):
        value = self.value() or "yes"
        if value == "all":
            return queryset
        return queryset.filter(resolved_at__isnull=value == "yes")


@admin.register(OfflineIncident)
class OfflineIncidentAdmin(admin.ModelAdmin):
    """The "offline incidents" page: two registrations that claimed one MRN. The first stays; ops give
    the second patient a new MRN with the action, and reprint the slip the page then links to."""

    list_display = ["id", "created_at", "terminal", "kind", "mrn", "kept_shown", "refused_shown", "registered_at",
                    "resolution"]
    list_filter = [OpenFilter, "kind", "terminal"]
    search_fields = ["mrn", "kept__full_name", "refused_details__full_name"]
    fields = ["terminal", "kind", "mrn", "kept", "kept_details", "refused_client_uuid", "refused_details", "registered_at",
              "device_id", "created_at", "resolution", "resolved_by", "resolved_at"]
    readonly_fields = fields
    actions = ["give_new_mrn"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("terminal", "kept", "new_patient")

    def has_add_permission(self, request):
        return False  # opened by sync only

    def has_delete_permission(self, request, obj=None):
        return False  # the record of what happened stays

    @admin.display(description="kept (holds the MRN)")
    def kept_shown(self, obj):
        if obj.kept is None:
            return "- (the number is of another machine's lease)"
        return f"{obj.kept.full_name} ({(obj.kept_details or {}).get('registered_at') or 'registered online'})"

    @admin.display(description="refused (needs a new MRN)")
    def refused_shown(self, obj):
        sent = obj.refused_details
        return f"{sent.get('full_name')} {sent.get('dob') or ''} {sent.get('phone') or ''}".strip()

    @admin.display(description="resolution")
    def resolution(self, obj):
        if obj.new_patient is None:
            return format_html('<span style="{}">open</span>', LEVEL_STYLE["critical"])
        slip = reverse("patients:slip", args=[obj.new_patient.pk])
        return format_html('new MRN {}: <a href="{}">reprint the slip</a> printed as {}', obj.new_patient.mrn,
                           slip, obj.mrn)

    @admin.action(description="Give the refused patient a new MRN (then reprint the slip)")
    def give_new_mrn(self, request, queryset):
        for incident in queryset.order_by("pk"):
            try:
                patient = incidents.resolve_incident(incident_id=incident.pk, resolved_by=request.user)
            except (DomainError, ValidationError) as exc:
                self.message_user(request, f"Incident #{incident.pk}: {exc}", messages.ERROR)
                continue
            self.message_user(request, f"Incident #{incident.pk}: {patient.full_name} now has MRN {patient.mrn}; "
                                       f"reprint the slip printed as {incident.mrn}.", messages.SUCCESS)


class LeaseHandoverForm(forms.ModelForm):
    """A handover: which lease of which terminal, to which machine, and why (terminals.services.hand_over_lease)."""

    terminal = forms.ModelChoiceField(LabTerminal.objects.all())
    start = forms.IntegerField(help_text="The lease's first number, e.g. 710000.")

    class Meta:
        model = LeaseHandover
        fields = ["to_device", "reason"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            self.instance = services.hand_over_lease(
                terminal_code=data["terminal"].code, start=data["start"], to_device=data["to_device"],
                by=self.user, reason=data["reason"])
        except DomainError as exc:
            raise ValidationError(str(exc)) from None
        return data


@admin.register(LeaseHandover)
class LeaseHandoverAdmin(admin.ModelAdmin):
    """Hand a dead PC's lease to its replacement ("Add lease handover"); the list is the record of who and why."""

    form = LeaseHandoverForm
    list_display = ["at", "lease", "from_device", "to_device", "by", "reason"]
    readonly_fields = ["at"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.user = request.user
        return form

    def save_model(self, request, obj, form, change):
        pass  # saved by the service in the form's clean, with the lease it moves

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # the record of what happened stays


@admin.register(SkewedRegistration)
class SkewedRegistrationAdmin(ReadOnlyAdmin):
    """Offline records whose terminal clock claimed a time after their arrival: stored with the server's time."""

    list_display = ["created_at", "terminal", "patient", "claimed_registered_at", "device_id"]
    list_filter = ["terminal"]
    list_select_related = ["terminal", "patient"]


@admin.register(RefusedRegistration)
class RefusedRegistrationAdmin(ReadOnlyAdmin):
    """Offline records refused and not stored since, per machine (the ops view's "refused")."""

    list_display = ["refused_at", "terminal", "device_id", "mrn", "status", "errors"]
    list_filter = ["terminal", "status"]


@admin.register(TerminalDevice)
class TerminalDeviceAdmin(ReadOnlyAdmin):
    """The machines of each terminal, by device identity, with their last contact."""

    list_display = ["terminal", "device_id", "kind", "first_seen_at", "last_contact_at", "last_sync_at",
                    "clock_skew_seconds", "leased_used_unused"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("terminal")

    @admin.display(description="kind")
    def kind(self, obj):
        """A browser (the offline registration page) or the command-line client."""
        return devices.device_kind(obj.device_id)

    @admin.display(description="leased / used / unused")
    def leased_used_unused(self, obj):
        """The figures of the leases bound to this machine, as the terminal's leases show them."""
        own = devices.lease_states(obj.terminal, device_id=obj.device_id)
        own = [lease for lease in own if lease["device_id"] == obj.device_id]
        return (f"{sum(lease['count'] for lease in own):,} / {sum(lease['used'] for lease in own):,} / "
                f"{sum(lease['unused'] for lease in own):,}")
    list_filter = ["terminal"]
