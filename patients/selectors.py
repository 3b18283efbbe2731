"""Reads on patients."""

import re

from django.db.models import Q, QuerySet

from patients.models import Patient


def search_patients(query: str) -> QuerySet[Patient]:
    """Patients matching `query` by MRN (exact or prefix), name (partial, case-insensitive) or phone digits.

    Args:
        query: free text from a search box; blank returns every patient.
    Returns:
        a queryset, newest first.
    """
    query = query.strip()
    patients = Patient.objects.all()
    if not query:
        return patients
    condition = Q(mrn__startswith=query) | Q(full_name__icontains=query)
    digits = re.sub(r"\D", "", query)
    if len(digits) >= 4:
        condition |= Q(phone__contains=digits) | Q(phone__contains=query)
    return patients.filter(condition)
