"""Admin screens for idseq. Counters and the ledger are read-only: moving a counter or editing a recorded number
by hand could issue a printed number twice. Sequences are created and reset through the same services as the API."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html

from core.admin import ReadOnlyAdmin
from idseq import selectors, services
from idseq.exceptions import IdseqError
from idseq.models import Counter, IssuedNumber, Sequence, UnrecordedRange

FORMAT_FIELDS = ["key", "kind", "prefix", "padding", "start_value", "reset", "check_digit"]


@admin.register(Counter)
class CounterAdmin(ReadOnlyAdmin):
    """Counters are read-only here: moving one by hand could issue a printed number twice."""

    list_display = ["key", "last_value", "sequence", "scope", "updated_at"]
    search_fields = ["key"]


class SequenceChangeList(ChangeList):
    """The sequence list, each row carrying its usage (`sequence.usage`), computed for the page in three queries."""

    def get_results(self, request):
        super().get_results(request)
        self.result_list = list(self.result_list)
        usage = {row.key: row for row in selectors.sequence_usage(self.result_list)}
        for sequence in self.result_list:
            sequence.usage = usage[sequence.key]


class ResetForm(forms.Form):
    last_id = forms.CharField(max_length=64, label="Last id issued", help_text="The next id will follow this one.")


def usage_column(name: str, description: str):
    """A changelist column showing one field of the row's usage."""

    def column(self, sequence):
        value = getattr(sequence.usage, name)
        return "-" if value is None else value

    column.short_description = description
    return column


@admin.register(Sequence)
class SequenceAdmin(admin.ModelAdmin):
    """Sequences with usage and forecast columns. The format is fixed once created (printed ids must stay
    readable); only `is_active` changes. Reset goes through services.reset_sequence (forward only)."""

    list_display = ["key", "kind", "prefix", "reset", "is_active", "next_id", "issued", "capacity", "percent_used",
                    "rate_per_day", "days_to_exhaustion", "level"]
    list_filter = ["kind", "reset", "is_active"]
    search_fields = ["key", "prefix"]

    next_id = usage_column("next_id", "next id")
    issued = usage_column("issued", "issued")
    capacity = usage_column("capacity", "capacity")
    percent_used = usage_column("percent_used", "% used")
    rate_per_day = usage_column("rate_per_day", "per day (30 d)")
    days_to_exhaustion = usage_column("days_to_exhaustion", "days left")
    level = usage_column("level", "level")

    def get_changelist(self, request, **kwargs):
        return SequenceChangeList

    def get_readonly_fields(self, request, obj=None):
        return [*FORMAT_FIELDS, "reset_link"] if obj else []

    def get_fields(self, request, obj=None):
        return [*FORMAT_FIELDS, "is_active", *(["reset_link"] if obj else [])]

    def has_delete_permission(self, request, obj=None):
        return False  # its ids are printed; retire it with is_active instead

    @admin.display(description="reset")
    def reset_link(self, sequence):
        return format_html('<a href="{}">Move this sequence forward…</a>',
                           reverse("admin:idseq_sequence_reset", args=[sequence.pk]))

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["is_active"])
        else:
            created = services.create_sequence(**{name: getattr(obj, name) for name in [*FORMAT_FIELDS, "is_active"]})
            obj.pk = created.pk

    def get_urls(self):
        return [
            path("<int:pk>/reset/", self.admin_site.admin_view(self.reset_view), name="idseq_sequence_reset"),
            *super().get_urls(),
        ]

    def reset_view(self, request, pk):
        """Ask for the last id and reset through services.reset_sequence; its errors show in the form."""
        if not request.user.has_perm("idseq.reset_sequence"):
            raise PermissionDenied
        sequence = get_object_or_404(Sequence, pk=pk)
        form = ResetForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                next_id = services.reset_sequence(sequence.key, form.cleaned_data["last_id"], reset_by=request.user)
            except IdseqError as exc:
                form.add_error("last_id", str(exc))
            else:
                self.message_user(request, f"{sequence.key} reset; the next id is {next_id or 'none (format full)'}.",
                                  messages.SUCCESS)
                return redirect("admin:idseq_sequence_change", sequence.pk)
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "sequence": sequence,
                   "form": form, "title": f"Reset {sequence.key}",
                   "next_id": selectors.sequence_usage([sequence])[0].next_id}
        return render(request, "admin/idseq/sequence/reset.html", context)


@admin.register(IssuedNumber)
class IssuedNumberAdmin(ReadOnlyAdmin):
    """The ledger, read-only."""

    list_display = ["formatted", "sequence", "scope", "value", "issued_at", "issued_by", "purpose",
                    "idempotency_key", "voided_at", "voided_by", "void_reason"]
    list_filter = ["sequence", ("voided_at", admin.EmptyFieldListFilter)]
    search_fields = ["formatted", "purpose"]
    date_hierarchy = "issued_at"
    list_select_related = ["sequence", "issued_by", "idempotency_key", "voided_by"]


@admin.register(UnrecordedRange)
class UnrecordedRangeAdmin(ReadOnlyAdmin):
    """Values with no ledger row on purpose (skipped by a reset, or issued before the ledger), read-only."""

    list_display = ["sequence", "scope", "first_value", "last_value", "reason", "created_at", "created_by"]
    list_filter = ["reason", "sequence"]
