from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.urls import reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from core.admin import ReadOnlyAdmin
from patients import access, services
from patients.models import Patient, PatientAccess, PatientMerge
from patients.selectors import of_visible
from patients.services import DEMOGRAPHIC_FIELDS


@admin.register(Patient)
class PatientAdmin(SimpleHistoryAdmin):
    """Patients in the admin, with their history of corrections ("History" button, django-simple-history).

    New patients get their MRN from the same service as the desk and the API.
    """

    list_display = ["mrn", "full_name", "father_name", "sex", "dob", "phone", "cnic", "is_active", "created_at"]
    list_filter = ["is_active", "sex", "created_at"]
    search_fields = ["mrn", "full_name", "father_name", "phone", "cnic"]
    history_list_display = ["full_name", "father_name", "dob", "phone", "cnic", "is_active"]
    # Offline registrations: when the patient stood at the terminal (its clock) and when it synced.
    readonly_fields = [
        "mrn", "created_at", "created_by", "origin_terminal", "registered_at", "synced_at", "access_history",
    ]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        # The admin reads patients through the same rule as every other path (an admin sees the whole register).
        return of_visible(super().get_queryset(request), request.user, via="pk")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The change page shows the patient's details: opening it (GET) writes an access record."""
        self._record_read(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        """The list of the patient's past versions, every field of each: a read like the change page."""
        self._record_read(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        """One past version of the patient, every field: a read like the change page."""
        self._record_read(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)

    def _record_read(self, request, object_id) -> None:
        if request.method == "GET":
            patient = self.get_object(request, unquote(object_id))
            if patient is not None:
                access.record_read(user=request.user, patient=patient, channel=access.Channel.ADMIN)

    @admin.display(description="Access history")
    def access_history(self, patient):
        """A link to the list of this patient's access records, newest first."""
        if patient.pk is None:
            return "-"
        url = reverse("admin:patients_patientaccess_changelist") + f"?patient__id__exact={patient.pk}"
        return format_html('<a href="{}">Who read this patient, and when</a>', url)

    def get_readonly_fields(self, request, obj=None):
        """A merged-away record stays inactive (a database constraint): only unmerging makes it active again."""
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "is_active", "merged_into"] if obj is not None and obj.merged_into_id else fields

    def save_model(self, request, obj, form, change):
        if change:  # the same service as the reception page and the API: validation, history user, CNIC guard
            demographics = {name: form.cleaned_data[name] for name in form.changed_data if name in DEMOGRAPHIC_FIELDS}
            services.update_patient(obj, changed_by=request.user, **demographics)
            if "is_active" in form.changed_data and not obj.is_active:
                services.deactivate_patient(obj, changed_by=request.user)
            elif set(form.changed_data) - set(DEMOGRAPHIC_FIELDS):
                super().save_model(request, obj, form, change)
        else:
            obj.created_by = request.user
            services.save_new_patient(obj)

    def has_delete_permission(self, request, obj=None):
        # Deleting would free a printed MRN; deactivate instead (is_active).
        return False


@admin.register(PatientAccess)
class PatientAccessAdmin(admin.ModelAdmin):
    """Who read which patient, when, through what (patients.access); read-only, kept TOKENLINE_ACCESS_LOG_DAYS.
    A patient's history is this list filtered on the patient (the link on the patient's change page)."""

    list_display = ["at", "user", "channel", "patient", "search_kind", "result_count", "request_id"]
    list_filter = ["channel", "at"]
    list_select_related = ["user", "patient"]
    search_fields = ["user__username", "request_id", "patient__mrn"]
    date_hierarchy = "at"
    ordering = ["-at", "-id"]
    show_full_result_count = False  # the log grows by every read; counting it all for each page is wasted work

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # records go only by age (prune_access_log)


@admin.register(PatientMerge)
class PatientMergeAdmin(ReadOnlyAdmin):
    """The merges made (patients/merge.py), for the audit: who merged which record into which, when and why, what
    moved, and the unmerge. Read-only: merging and unmerging go through the worklist and the API."""

    list_display = ["merged_at", "merged", "survivor", "merged_by", "cnic_override", "unmerged_at", "unmerged_by"]
    list_select_related = ["merged", "survivor", "merged_by", "unmerged_by"]
    search_fields = ["merged__mrn", "survivor__mrn", "reason"]
    date_hierarchy = "merged_at"
