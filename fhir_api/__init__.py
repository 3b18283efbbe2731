"""FHIR R4 read and search of patients under /fhir/ (issue 16). Named fhir_api: `fhir` is the package of the
fhir.resources library this app builds its resources with."""
