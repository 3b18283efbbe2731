"""REST API for lab terminals (issue #6): leases, batch sync, utilisation, and offline registration on
`POST /api/v1/patients/` (and seed 001's `/api/patients/`) with `"offline": true`."""

import logging
from collections.abc import Mapping

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import exception_handler
from patients import api as patients_api
from patients.api import PatientIn, PatientOut
from patients.models import Patient
from terminals import selectors, services
from terminals.models import TerminalLease, TerminalRange

logger = logging.getLogger("tokenline.terminals")


class OfflinePatientIn(PatientIn):
    """An offline registration: the demographics, the terminal, and (for a leased number) `mrn` and `client_uuid`."""

    offline = serializers.BooleanField(required=False, default=True)
    origin_terminal_code = serializers.CharField(required=False, allow_blank=True, default="", max_length=50)
    # Not trimmed: the number must be stored exactly as the terminal printed it, or be refused.
    mrn = serializers.CharField(
        required=False, max_length=20, trim_whitespace=False,
        help_text="The number the terminal printed from its lease, e.g. 710042.",
    )
    client_uuid = serializers.UUIDField(required=False, help_text="The terminal's id for this registration.")

    class Meta(PatientIn.Meta):
        fields = [*PatientIn.Meta.fields, "offline", "origin_terminal_code", "mrn", "client_uuid"]


class SyncItemIn(OfflinePatientIn):
    """One registration of a sync batch: `mrn` and `client_uuid` are required."""

    mrn = serializers.CharField(max_length=20, trim_whitespace=False)
    client_uuid = serializers.UUIDField()


def wants_offline(data) -> bool:
    """Whether a patients POST asks for offline registration (`"offline": true`, seed 001)."""
    flag = data.get("offline") if isinstance(data, Mapping) else None
    return isinstance(flag, bool | int | str) and flag in serializers.BooleanField.TRUE_VALUES


class PatientViewSet(patients_api.PatientViewSet):
    """The patients API as the seed paths serve it (`/api/v1/patients/`, seed 001's `/api/patients/`): a body with
    `"offline": true` is a terminal's offline registration, numbered from its range; any other is patients'.

    Mounted by config/urls.py ahead of patients' own routes, so patients never needs to know terminals exist.
    """

    @extend_schema(request=PatientIn, responses={201: PatientOut, 200: PatientOut})
    def create(self, request):
        if wants_offline(request.data):
            return register_offline(request)
        return super().create(request)


def register_offline(request) -> Response:
    """`POST /api/v1/patients/` with `"offline": true`: 201 with the new patient, 200 when already synced."""
    data = OfflinePatientIn(data=request.data)
    data.is_valid(raise_exception=True)
    fields = dict(data.validated_data)
    fields.pop("offline")
    registration = services.register_offline(
        terminal_code=fields.pop("origin_terminal_code"), user=request.user, **fields
    )
    return Response(
        PatientOut(registration.patient).data,
        status=status.HTTP_201_CREATED if registration.created else status.HTTP_200_OK,
    )


class LeaseIn(serializers.Serializer):
    count = serializers.IntegerField(min_value=1, max_value=services.LEASE_MAX)


class LeaseOut(serializers.ModelSerializer):
    terminal = serializers.SlugRelatedField(slug_field="code", read_only=True)
    count = serializers.IntegerField(source="total", read_only=True)

    class Meta:
        model = TerminalLease
        fields = ["id", "terminal", "start", "end", "count", "created_at"]
        read_only_fields = fields


class LeaseView(APIView):
    """`POST /api/v1/terminals/{code}/leases/ {"count": 500}`: a block of the terminal's range to number from
    while offline. Only the terminal's own key may lease (403 otherwise)."""

    queryset = TerminalLease.objects.none()  # RolePermissions: POST needs terminals.add_terminallease

    @extend_schema(request=LeaseIn, responses={201: LeaseOut})
    def post(self, request, code):
        data = LeaseIn(data=request.data)
        data.is_valid(raise_exception=True)
        lease = services.lease_block(terminal_code=code, user=request.user, count=data.validated_data["count"])
        return Response(LeaseOut(lease).data, status=status.HTTP_201_CREATED)


class SyncIn(serializers.Serializer):
    registrations = serializers.ListField(
        child=serializers.DictField(), allow_empty=False, max_length=services.SYNC_BATCH_MAX
    )


class SyncView(APIView):
    """`POST /api/v1/terminals/{code}/sync/ {"registrations": [...]}`: up to 1,000 offline registrations, each with
    the `mrn` printed from a lease and its `client_uuid`. Answers 200 with one result per item, in order:
    `created` (201), `already_synced` (200) or `error` (its status and message); items are independent."""

    queryset = Patient.objects.none()  # RolePermissions: POST needs patients.add_patient

    @extend_schema(request=SyncIn, responses={200: dict})
    def post(self, request, code):
        data = SyncIn(data=request.data)
        data.is_valid(raise_exception=True)
        item_in, patient_out = SyncItemIn(), PatientOut()  # one of each for the batch: building fields is costly
        items = [_validated(item_in, item) for item in data.validated_data["registrations"]]
        outcomes = services.sync_registrations(terminal_code=code, user=request.user, registrations=items)
        results = [_result(patient_out, i, outcome) for i, outcome in enumerate(outcomes)]
        counts = {key: sum(r["result"] == key for r in results) for key in ("created", "already_synced", "error")}
        return Response({**counts, "results": results})


def _validated(item_in: SyncItemIn, item: dict):
    """The service arguments of one sync item, or the ValidationError it fails with."""
    try:
        fields = dict(item_in.run_validation(item))
    except serializers.ValidationError as exc:
        return exc
    for key in ("offline", "origin_terminal_code"):
        fields.pop(key)
    return fields


def _result(patient_out: PatientOut, index: int, outcome) -> dict:
    if isinstance(outcome, services.Registration):
        return {
            "index": index,
            "result": "created" if outcome.created else "already_synced",
            "status": status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK,
            "patient": patient_out.to_representation(outcome.patient),
        }
    response = exception_handler(outcome, {})  # the same status and body as a single request would get
    if response is None:  # a fault, not a refusal: logged, and the terminal keeps the item to send again
        logger.error("Sync item %s failed", index, exc_info=outcome)
        return {"index": index, "result": "error", "status": 500,
                "errors": {"detail": "Server error; this registration was not stored. Send it again later."}}
    return {"index": index, "result": "error", "status": response.status_code, "errors": response.data}


class UtilisationView(APIView):
    """`GET /api/v1/terminals/utilisation/`: per terminal and range, used, total, % used, remaining and level
    (`ok`, `warning` from 80 %, `critical` from 90 %)."""

    queryset = TerminalRange.objects.none()  # RolePermissions: GET needs terminals.view_terminalrange

    @extend_schema(responses={200: dict})
    def get(self, request):
        return Response(selectors.utilisation())
