"""FHIR R4 read and search of patients under /fhir/. Named fhir_api: `fhir` is the package of the
fhir.resources library this app builds its resources with."""
