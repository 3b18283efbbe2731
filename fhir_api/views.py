"""FHIR R4 endpoints under /fhir/: metadata, Patient read and search. JSON only
(`application/fhir+json`), errors as OperationOutcome; the mapping lives in fhir_api/resources.py, the search in
fhir_api/search.py. Authentication is the API's (token or session); reading patients needs `patients.view_patient`
(role fhir_reader, or any role that may view patients).
"""

import json
import re

from django.core.paginator import EmptyPage, Paginator
from rest_framework import exceptions, permissions, renderers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import BadRequest, RolePermissions
from core.api import exception_handler as api_exception_handler
from fhir_api import resources, search
from patients import access
from patients.models import Patient

# HTTP status -> FHIR issue type (http://hl7.org/fhir/issue-type) of the OperationOutcome.
ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
               409: "conflict", 503: "transient"}


class FHIRJSONRenderer(renderers.BaseRenderer):
    """Renders fhir.resources models (or a plain dict) as `application/fhir+json`."""

    media_type = "application/fhir+json"
    format = "json"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if hasattr(data, "model_dump_json"):
            return data.model_dump_json().encode()
        return json.dumps(data).encode()


class FHIRJSONOnly(BaseContentNegotiation):
    """Every answer is FHIR JSON, whatever the Accept header or `_format` says (the only format we serve)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def fhir_exception_handler(exc, context):
    """The API's error handling (core.api.exception_handler: statuses, no driver messages), with the body an
    OperationOutcome carrying the message as diagnostics."""
    response = api_exception_handler(exc, context)
    if response is not None:
        response.data = resources.operation_outcome(
            ISSUE_CODES.get(response.status_code, "exception"), _message(response.data)
        )
    return response


def _message(data) -> str:
    if isinstance(data, dict) and set(data) == {"detail"}:
        return str(data["detail"])
    return json.dumps(data)


class FHIRView(APIView):
    """Base of the FHIR endpoints: FHIR JSON in and out, OperationOutcome errors."""

    renderer_classes = [FHIRJSONRenderer]
    content_negotiation_class = FHIRJSONOnly
    queryset = Patient.objects.all()  # RolePermissions reads the model permission from it
    permission_classes = [RolePermissions]

    def get_exception_handler(self):
        return fhir_exception_handler

    def base_url(self) -> str:
        """This server's FHIR base, e.g. `https://tokenline.example/fhir/`."""
        return self.request.build_absolute_uri("/fhir/")


class MetadataView(FHIRView):
    """GET /fhir/metadata: the CapabilityStatement. Open to anyone, as FHIR clients read it before logging in."""

    permission_classes = [permissions.AllowAny]
    authentication_classes = []

    def get(self, request):
        return Response(resources.capability_statement(self.base_url()))


class PatientReadView(FHIRView):
    """GET /fhir/Patient/{id}: one patient the caller may read (patients.selectors.visible_to), or 404
    OperationOutcome, as if it did not exist, for any other; the read is recorded (patients.access)."""

    def get(self, request, pk: str):
        record = None
        if re.fullmatch(r"\d{1,18}", pk, re.ASCII):
            record = search.patients(request.user).filter(pk=int(pk)).first()
        if record is None:
            raise exceptions.NotFound(f"Patient/{pk} is not known.")
        access.record_read(user=request.user, patient=record, channel=access.Channel.FHIR)
        return Response(resources.patient(record))


class PatientSearchView(FHIRView):
    """GET /fhir/Patient?identifier=...&name=...&birthdate=...&phone=...&_count=20&page=1: a searchset Bundle."""

    def get(self, request):
        try:
            count, page_number = search.page_params(request.query_params)
            found = search.search(request.query_params, request.user)
        except search.InvalidSearch as exc:
            raise BadRequest(str(exc)) from None
        paginator = Paginator(found, count)
        try:
            page = paginator.page(page_number)
        except EmptyPage:
            page = None
        kind = "+".join(name for name in search.SEARCHES if name in request.query_params) or "all"
        access.record_search(user=request.user, channel=access.Channel.FHIR, kind=kind, count=paginator.count)
        bundle = resources.searchset(
            [resources.patient(record) for record in (page.object_list if page else [])],
            total=paginator.count,
            links=self._links(page_number, paginator.num_pages),
            base_url=self.base_url(),
        )
        return Response(bundle, status=status.HTTP_200_OK)

    def _links(self, page_number: int, last: int) -> dict[str, str]:
        links = {"self": self._page_url(page_number), "first": self._page_url(1)}
        if 1 < page_number <= last + 1:
            links["previous"] = self._page_url(page_number - 1)
        if page_number < last:
            links["next"] = self._page_url(page_number + 1)
        links["last"] = self._page_url(last)
        return links

    def _page_url(self, number: int) -> str:
        query = self.request.query_params.copy()
        query["page"] = str(number)
        return self.request.build_absolute_uri(f"{self.request.path}?{query.urlencode()}")
