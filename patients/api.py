"""REST API for patients: `/api/v1/patients/` (and `/api/patients/` for seed-001 terminals)."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api import refuse_empty_filters
from core.serializers import ModelSerializer
from idseq.services import request_fingerprint
from patients import access, services, slips
from patients.filters import PatientFilter
from patients.models import Patient
from patients.mrn import validate_mrn
from patients.pagination import CappedPagination
from patients.selectors import visible_to

CARRY_OVER_PERMISSION = "patients.carry_over_mrn"


class PatientIn(ModelSerializer):
    """What a client may send. `name` is accepted as an alias of `full_name` (seed-002 clients)."""

    name = serializers.CharField(write_only=True, required=False, help_text="Alias of full_name.")
    mrn = serializers.CharField(
        required=False,
        allow_blank=True,
        validators=[validate_mrn],
        help_text="Registration only: a number issued before Tokenline (xxx-xx-xxx); omit to issue the next one.",
    )

    class Meta:
        model = Patient
        fields = [*services.DEMOGRAPHIC_FIELDS, "name", "mrn"]
        extra_kwargs = {"full_name": {"required": False}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance is not None:
            del self.fields["mrn"]  # a registered patient's MRN never changes: ignored like any unknown key

    def validate(self, attrs):
        alias = attrs.pop("name", None)
        if alias is not None and "full_name" not in attrs:
            attrs["full_name"] = alias
        if not self.partial and not attrs.get("full_name"):
            raise serializers.ValidationError({"full_name": ["This field is required."]})
        return attrs


class PatientOut(ModelSerializer):
    """A patient as the API shows it."""

    # Blank when not given, which the model's email format and sex choices alone would not document.
    email = serializers.CharField(read_only=True)
    sex = serializers.ChoiceField(choices=Patient.Sex.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Patient
        fields = [
            "id", "mrn", *services.DEMOGRAPHIC_FIELDS, "is_active", "created_at", "created_by",
            "is_offline_entry", "origin_terminal", "registered_at", "synced_at", "client_uuid",
        ]
        read_only_fields = fields


class SlipQuery(serializers.Serializer):
    """Query of the slip endpoint."""

    output = serializers.ChoiceField(choices=["svg", "pdf"], default="svg")
    paper = serializers.ChoiceField(choices=list(slips.PAPERS), default=slips.THERMAL)


class PatientViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Register, search, read and correct patients. DELETE deactivates: the MRN is never freed."""

    queryset = Patient.objects.all()
    serializer_class = PatientOut
    filterset_class = PatientFilter
    pagination_class = CappedPagination

    @extend_schema(responses=PatientOut(many=True))
    def get_queryset(self):
        return visible_to(self.request.user)  # a terminal's key: its own patients only

    def list(self, request):
        """Search (see PatientFilter); a `hint` key explains an empty page caused by unusable input. A parameter
        without a value is a 400, as on every list."""
        refuse_empty_filters(PatientFilter, request.query_params)
        search = PatientFilter(request.query_params, queryset=self.get_queryset(), request=request)
        if not search.is_valid():
            raise exceptions.ValidationError(search.errors)
        page = self.paginate_queryset(search.qs)
        access.record_search(user=request.user, channel=access.Channel.API, kind=search.kind,
                             count=self.paginator.page.paginator.count)
        response = self.get_paginated_response(PatientOut(page, many=True).data)
        if search.hints:
            response.data["hint"] = " ".join(search.hints)
        return response

    def retrieve(self, request, pk=None):
        """One patient's details; the read is recorded (patients.access)."""
        patient = self.get_object()
        access.record_read(user=request.user, patient=patient, channel=access.Channel.API)
        return Response(PatientOut(patient).data)

    @extend_schema(request=PatientIn, responses={201: PatientOut})
    def create(self, request):
        """Register a patient online (offline bodies are the terminals app's, see terminals.api.PatientViewSet)."""
        data = PatientIn(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data.get("mrn") and not request.user.has_perm(CARRY_OVER_PERMISSION):
            raise exceptions.PermissionDenied("Your role may not register a patient under an existing MRN.")
        patient = services.register_patient(
            **data.validated_data,
            created_by=request.user,
            idempotency_key=request.headers.get("Idempotency-Key"),  # a retry gets the first registration
            fingerprint=request_fingerprint(request.data),
        )
        return Response(PatientOut(patient).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PatientIn, responses=PatientOut)
    def update(self, request, pk=None, partial=False):
        patient = self.get_object()
        data = PatientIn(patient, data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        services.update_patient(patient, changed_by=request.user, **data.validated_data)
        return Response(PatientOut(patient).data)

    @extend_schema(request=PatientIn, responses=PatientOut)
    def partial_update(self, request, pk=None):
        return self.update(request, pk, partial=True)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        services.deactivate_patient(self.get_object(), changed_by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        parameters=[SlipQuery],
        responses={(200, "image/svg+xml"): OpenApiTypes.STR, (200, "application/pdf"): OpenApiTypes.BINARY},
    )
    @action(detail=True, methods=["get"])
    def slip(self, request, pk=None):
        """The registration slip (MRN as Code 128 and QR, demographics) as SVG or PDF, for 80 mm paper, A4 or A5."""
        query = SlipQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        patient = self.get_object()
        access.record_read(user=request.user, patient=patient, channel=access.Channel.SLIP)
        slip = slips.Slip.of(patient)
        if query.validated_data["output"] == "pdf":
            return HttpResponse(slips.render_pdf(slip, query.validated_data["paper"]), content_type="application/pdf")
        return HttpResponse(slips.render_svg(slip, query.validated_data["paper"]), content_type="image/svg+xml")
