"""REST API for lab terminals: leases, batch sync, utilisation, and offline registration on
`POST /api/v1/patients/` (and seed 001's `/api/patients/`) with `"offline": true`."""

import logging
import uuid
from collections.abc import Mapping

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import RolePermissions, exception_handler
from patients import api as patients_api
from patients.api import PatientIn, PatientOut
from patients.models import Patient
from patients.exceptions import DuplicatePatient
from terminals import devices, incidents, queries, services
from terminals.models import LabTerminal, TerminalLease, TerminalRange

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
    # Checked by the service against the terminal's registration date, not the server's today.
    dob = serializers.DateField(required=False, allow_null=True)
    registered_at = serializers.DateTimeField(
        required=False, help_text="When the terminal registered the patient, by its clock (ISO 8601 with offset)."
    )

    class Meta(PatientIn.Meta):
        fields = [*PatientIn.Meta.fields, "offline", "origin_terminal_code", "mrn", "client_uuid", "registered_at"]


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
    """`POST /api/v1/patients/` with `"offline": true`: 201 with the new patient, 200 when already synced.

    The same path as a batch sync of one item (`sync_as_device`): the `X-Tokenline-Device` binding, refusals and
    incidents are the batch's, and the contact is recorded alike."""
    data = OfflinePatientIn(data=request.data)
    data.is_valid(raise_exception=True)
    fields = dict(data.validated_data)
    fields.pop("offline")
    _terminal, _contact, outcomes, epoch = sync_as_device(request, fields.pop("origin_terminal_code"), [fields])
    if isinstance(outcomes[0], Exception):
        raise outcomes[0]
    return with_epoch(Response(
        PatientOut(outcomes[0].patient).data,
        status=status.HTTP_201_CREATED if outcomes[0].created else status.HTTP_200_OK,
    ), epoch)


def with_epoch(response: Response, epoch: str) -> Response:
    """`response` carrying the machine's next epoch (`X-Tokenline-Epoch`, terminals.devices.check_epoch)."""
    if epoch:
        response["X-Tokenline-Epoch"] = epoch
    return response


def sync_as_device(request, code: str, items: list) -> tuple[LabTerminal, devices.Contact, list, str]:
    """Store terminal `code`'s offline registrations `items` (`services.sync_registrations`) as the device named by
    the request's X-Tokenline-* headers, after checking its epoch, and record the contact.
    Returns (terminal, contact, one outcome per item: a Registration or the exception it raised, the machine's
    next epoch or "").
    Raises as `services.terminal_for`, `services.sync_registrations` and `devices.parse_contact` (a malformed
    header: 400), before anything is written."""
    contact = devices.parse_contact(request.headers)
    terminal = services.terminal_for(code=code, user=request.user)
    epoch = devices.check_epoch(terminal=terminal, contact=contact)  # a clone's leases go on hold before it syncs
    outcomes = services.sync_registrations(terminal_code=code, user=request.user, registrations=items,
                                           device_id=contact.device_id)
    devices.record_contact(terminal=terminal, contact=contact, synced=True)
    stored, refused = [], []
    for item, outcome in zip(items, outcomes, strict=True):
        sent = item.get("client_uuid") if isinstance(item, dict) else getattr(item, "client_uuid", None)
        if isinstance(outcome, services.Registration):
            stored.append(outcome.patient.client_uuid)
        elif sent is not None and (refusal := _refusal(outcome)) and refusal[0] < 500:
            refused.append((sent, item.get("mrn") if isinstance(item, dict) else item.mrn, *refusal))
    devices.record_refusals(terminal=terminal, device_id=contact.device_id, refused=refused,
                            stored=[done for done in stored if done])
    return terminal, contact, outcomes, epoch


class TerminalUse(RolePermissions):
    """The role's model permission, or (staff on a terminal's offline page in a browser) the URL's terminal lists
    the user in its `browser_users`. Either way `services.terminal_for` then checks the binding to that terminal."""

    def has_permission(self, request, view):
        if super().has_permission(request, view):
            return True
        terminal = LabTerminal.objects.filter(code=view.kwargs.get("code", ""), is_active=True).first()
        return terminal is not None and services.may_run_in_browser(terminal=terminal, user=request.user)


class LeaseIn(serializers.Serializer):
    count = serializers.IntegerField(min_value=1, max_value=services.LEASE_MAX)
    request_id = serializers.UUIDField(
        required=False, help_text="The client's id for this request: sent again, it returns the same lease."
    )


class LeaseOut(serializers.ModelSerializer):
    terminal = serializers.SlugRelatedField(slug_field="code", read_only=True)
    count = serializers.IntegerField(source="total", read_only=True)

    class Meta:
        model = TerminalLease
        fields = ["id", "terminal", "start", "end", "count", "device_id", "request_id", "requested", "created_at"]
        read_only_fields = fields


class LeaseView(APIView):
    """`POST /api/v1/terminals/{code}/leases/ {"count": 500, "request_id": "<uuid>"}`: a block of the terminal's
    range to number from while offline, bound to the device named by `X-Tokenline-Device`. The answer adds
    `granted`, `short` (fewer than asked), the terminal's `remaining` numbers, `percent` and `level` (ok / warning
    80 % / critical 90 %), and `leases`: this device's leases with their high-water marks.

    `GET` the same path: the terminal's leases (all its devices) with `synced`, `high_water`, `used`, `unused`, so
    a terminal that lost its disk can recover. Only the terminal's own key may use either (403 otherwise)."""

    queryset = TerminalLease.objects.none()  # RolePermissions: POST needs add_terminallease, GET view_terminallease
    permission_classes = [TerminalUse]

    @extend_schema(request=LeaseIn, responses={201: dict, 200: dict})
    def post(self, request, code):
        data = LeaseIn(data=request.data)
        data.is_valid(raise_exception=True)
        contact = devices.parse_contact(request.headers)
        epoch = devices.check_epoch(terminal=services.terminal_for(code=code, user=request.user), contact=contact)
        lease = services.lease_block(terminal_code=code, user=request.user, count=data.validated_data["count"],
                                     device_id=contact.device_id, request_id=data.validated_data.get("request_id"))
        devices.record_contact(terminal=lease.terminal, contact=contact)
        answer = {**LeaseOut(lease).data, **queries.lease_reply(lease),
                  "leases": devices.lease_states(lease.terminal, device_id=contact.device_id)}
        return with_epoch(Response(answer, status=status.HTTP_201_CREATED), epoch)

    @extend_schema(responses={200: dict})
    def get(self, request, code):
        """The terminal's own leases with what it used of each (for `recover` after losing its disk)."""
        terminal = services.terminal_for(code=code, user=request.user)
        contact = devices.parse_contact(request.headers)
        epoch = devices.check_epoch(terminal=terminal, contact=contact)
        devices.record_contact(terminal=terminal, contact=contact)
        return with_epoch(Response({"terminal": terminal.code, "leases": devices.lease_states(terminal),
                                    "renumbered": incidents.renumbered_for(terminal)}), epoch)


class SyncIn(serializers.Serializer):
    registrations = serializers.ListField(
        child=serializers.DictField(), allow_empty=False, max_length=services.SYNC_BATCH_MAX
    )


class SyncView(APIView):
    """`POST /api/v1/terminals/{code}/sync/ {"registrations": [...]}`: up to 1,000 offline registrations, each with
    the `mrn` printed from a lease and its `client_uuid`. Answers 200 with one result per item, in order:
    `created` (201), `already_synced` (200) or `error` (its status and message); items are independent."""

    queryset = Patient.objects.none()  # RolePermissions: POST needs patients.add_patient
    permission_classes = [TerminalUse]

    @extend_schema(request=SyncIn, responses={200: dict})
    def post(self, request, code):
        data = SyncIn(data=request.data)
        data.is_valid(raise_exception=True)
        item_in, patient_out = SyncItemIn(), PatientOut()  # one of each for the batch: building fields is costly
        items = [_validated(item_in, item) for item in data.validated_data["registrations"]]
        terminal, contact, outcomes, epoch = sync_as_device(request, code, items)
        results = [_result(patient_out, i, outcome) for i, outcome in enumerate(outcomes)]
        counts = {key: sum(r["result"] == key for r in results) for key in ("created", "already_synced", "error")}
        if counts["error"]:
            logger.warning("Terminal %s sync: %s of %s registrations refused", code, counts["error"], len(results))
        return with_epoch(Response({**counts, "results": results,
                                    "leases": devices.lease_states(terminal, device_id=contact.device_id),
                                    "renumbered": incidents.renumbered_for(terminal)}), epoch)


def _validated(item_in: SyncItemIn, item: dict):
    """The service arguments of one sync item, or the ValidationError it fails with."""
    try:
        fields = dict(item_in.run_validation(item))
    except serializers.ValidationError as exc:
        # Which registration was refused, when it says so legibly: the server keeps a record of refusals.
        try:
            exc.client_uuid, exc.mrn = uuid.UUID(str(item.get("client_uuid"))), str(item.get("mrn") or "")[:20]
        except ValueError:
            exc.client_uuid = None
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
    refusal = _refusal(outcome)
    if refusal is None:  # a fault, not a refusal: logged, and the terminal keeps the item to send again
        logger.error("Sync item %s failed", index, exc_info=outcome)
        return {"index": index, "result": "error", "status": 500,
                "errors": {"detail": "Server error; this registration was not stored. Send it again later."}}
    return {"index": index, "result": "error", "status": refusal[0], "errors": refusal[1]}


def _refusal(outcome: Exception) -> tuple[int, dict] | None:
    """(status, errors) of a refused sync item, as a single request would get them, with `field` naming what the
    terminal can fix; None for a fault (an unexpected exception)."""
    response = exception_handler(outcome, {})
    if response is None:
        return None
    errors = dict(response.data)
    if "detail" in errors and type(outcome) in REFUSED_FIELD:  # a field-level reason the terminal can fix
        errors.setdefault("field", REFUSED_FIELD[type(outcome)])
    return response.status_code, errors


# The field a domain error refuses, so that the terminal can show and fix it.
REFUSED_FIELD = {DuplicatePatient: "cnic", services.NotLeased: "mrn"}


class UtilisationView(APIView):
    """`GET /api/v1/terminals/utilisation/`: per terminal and range, used, total, % used, remaining and level
    (`ok`, `warning` from 80 %, `critical` from 90 %)."""

    queryset = TerminalRange.objects.none()  # RolePermissions: GET needs terminals.view_terminalrange

    @extend_schema(responses={200: dict})
    def get(self, request):
        return Response(queries.utilisation())


class TerminalsView(APIView):
    """`GET /api/v1/terminals/`: the ops view. Per terminal: last contact and sync, what it reported
    pending and refused, its clock skew (`clock_skewed` over 10 minutes), open incidents, and per lease `used` /
    `unused` with the high-water mark. A terminal's own key sees its own row only."""

    queryset = LabTerminal.objects.none()  # RolePermissions: GET needs terminals.view_labterminal

    @extend_schema(responses={200: dict})
    def get(self, request):
        own = getattr(request.user, "lab_terminal", None)
        return Response({"terminals": queries.ops_view(code=own.code if own else None)})
