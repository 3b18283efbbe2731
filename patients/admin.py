from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from core.admin import ReadOnlyAdmin
from patients import services
from patients.services import DEMOGRAPHIC_FIELDS
from patients.models import Patient, PatientMerge


@admin.register(Patient)
class PatientAdmin(SimpleHistoryAdmin):
    """Patients in the admin, with their history of corrections ("History" button, django-simple-history).

    New patients get their MRN from the same service as the desk and the API.
    """

    list_display = ["mrn", "full_name", "father_name", "sex", "dob", "phone", "cnic", "is_active", "created_at"]
    list_filter = ["is_active", "sex", "created_at"]
    search_fields = ["mrn", "full_name", "father_name", "phone", "cnic"]
    history_list_display = ["full_name", "father_name", "dob", "phone", "cnic", "is_active"]
    # Offline registrations (issue #14): when the patient stood at the terminal (its clock) and when it synced.
    readonly_fields = ["mrn", "created_at", "created_by", "origin_terminal", "registered_at", "synced_at"]
    date_hierarchy = "created_at"

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


@admin.register(PatientMerge)
class PatientMergeAdmin(ReadOnlyAdmin):
    """The merges made (patients/merge.py), for the audit: who merged which record into which, when and why, what
    moved, and the unmerge. Read-only: merging and unmerging go through the worklist and the API."""

    list_display = ["merged_at", "merged", "survivor", "merged_by", "cnic_override", "unmerged_at", "unmerged_by"]
    list_select_related = ["merged", "survivor", "merged_by", "unmerged_by"]
    search_fields = ["merged__mrn", "survivor__mrn", "reason"]
    date_hierarchy = "merged_at"
