"""Startup checks of the patients app's settings."""

from django.conf import settings
from django.core.checks import Error, register

from patients.mrn import SCHEMES


@register()
def check_mrn_scheme(app_configs, **kwargs):
    """TOKENLINE_MRN_SCHEME must name a scheme, or no MRN could be issued."""
    if settings.TOKENLINE_MRN_SCHEME not in SCHEMES:
        return [
            Error(
                f"TOKENLINE_MRN_SCHEME is {settings.TOKENLINE_MRN_SCHEME!r}; use one of {', '.join(SCHEMES)}.",
                id="patients.E001",
            )
        ]
    return []
