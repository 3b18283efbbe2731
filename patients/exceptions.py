"""Errors of patient services. The API answers them with their status and `mrn` (core.api); pages show the
message."""

from django.utils.translation import gettext as _

from core.errors import DomainError


class DuplicatePatient(DomainError):
    """409: an active patient already has this CNIC; `mrn` is that patient's MRN."""

    def __init__(self, *, cnic: str, mrn: str):
        super().__init__(
            _("A patient with CNIC %(cnic)s is already registered as %(mrn)s") % {"cnic": cnic, "mrn": mrn}, mrn=mrn
        )
        self.mrn = mrn


class MrnTaken(DomainError):
    """409: a number carried over from earlier records already belongs to a patient."""

    def __init__(self, *, mrn: str):
        super().__init__(_("MRN %(mrn)s is already registered to another patient") % {"mrn": mrn}, mrn=mrn)
        self.mrn = mrn
