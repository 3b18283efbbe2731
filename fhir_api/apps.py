from django.apps import AppConfig


class FhirApiConfig(AppConfig):
    """FHIR R4 Patient read and search, and the CapabilityStatement, under /fhir/."""

    name = "fhir_api"
    verbose_name = "FHIR"
