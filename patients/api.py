"""REST API for patients: `/api/v1/patients/` (and `/api/patients/` for seed-001 terminals)."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from idseq.services import request_fingerprint
from patients import services
from patients.models import Patient


class PatientIn(serializers.ModelSerializer):
    """What a client may send. `name` is accepted as an alias of `full_name` (seed-002 clients)."""

    name = serializers.CharField(write_only=True, required=False, help_text="Alias of full_name.")

    class Meta:
        model = Patient
        fields = [*services.DEMOGRAPHIC_FIELDS, "name"]
        extra_kwargs = {"full_name": {"required": False}}

    def validate(self, attrs):
        alias = attrs.pop("name", None)
        if alias is not None and "full_name" not in attrs:
            attrs["full_name"] = alias
        if not self.partial and not attrs.get("full_name"):
            raise serializers.ValidationError({"full_name": ["This field is required."]})
        return attrs


class PatientOut(serializers.ModelSerializer):
    """A patient as the API shows it."""

    class Meta:
        model = Patient
        fields = [
            "id", "mrn", *services.DEMOGRAPHIC_FIELDS, "is_active", "created_at", "created_by",
            "is_offline_entry", "origin_terminal", "synced_at", "client_uuid",
        ]
        read_only_fields = fields


class PatientViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Register, list, read and correct patients. DELETE deactivates: the MRN is never freed."""

    queryset = Patient.objects.all()
    serializer_class = PatientOut

    @extend_schema(request=PatientIn, responses={201: PatientOut})
    def create(self, request):
        # Imported here: terminals.api builds on this module's serializers.
        from terminals import api as terminals_api

        if terminals_api.wants_offline(request.data):  # seed 001: "offline": true, numbered from a terminal range
            return terminals_api.register_offline(request)
        data = PatientIn(data=request.data)
        data.is_valid(raise_exception=True)
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
        services.update_patient(patient, **data.validated_data)
        return Response(PatientOut(patient).data)

    @extend_schema(request=PatientIn, responses=PatientOut)
    def partial_update(self, request, pk=None):
        return self.update(request, pk, partial=True)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        services.deactivate_patient(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
