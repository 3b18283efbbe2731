"""REST API for patients: `/api/v1/patients/` (and `/api/patients/` for seed-001 terminals)."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api import refuse_empty_filters
from core.serializers import ModelSerializer
from idseq.services import request_fingerprint
from patients import access, duplicates, merge, services, slips
from patients.filters import PatientFilter
from patients.models import Patient, PatientMerge
from patients.mrn import validate_mrn
from patients.pagination import CappedPagination
from patients.selectors import visible_to

CARRY_OVER_PERMISSION = "patients.carry_over_mrn"
MERGE_PERMISSION = "patients.merge_patient"


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
            "is_offline_entry", "origin_terminal", "registered_at", "synced_at", "client_uuid", "merged_into",
        ]
        read_only_fields = fields


class MergeIn(serializers.Serializer):
    """A merge of record `other` into the record of the URL (the survivor)."""

    other = serializers.IntegerField(help_text="Id of the record merged away (its MRN is retired).")
    reason = serializers.CharField(help_text="Why the two records are one patient (audited).")
    cnic_override = serializers.BooleanField(default=False, help_text="Merge although the CNICs differ.")
    survivor_version = serializers.IntegerField(required=False, help_text="`version` of the survivor as shown.")
    other_version = serializers.IntegerField(required=False, help_text="`version` of the other record as shown.")


class MergeOut(serializers.ModelSerializer):
    """A merge as recorded."""

    class Meta:
        model = PatientMerge
        fields = ["id", "survivor", "merged", "reason", "cnic_override", "moved", "merged_at", "merged_by",
                  "unmerged_at", "unmerged_by", "unmerge_reason"]
        read_only_fields = fields


class UnmergeIn(serializers.Serializer):
    """Why a merge is undone, and which rows added to the survivor since go to the restored record too."""

    reason = serializers.CharField()
    also_move = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False, default=dict,
        help_text='Rows added to the survivor since the merge that belong to this record: {"queues.visit.patient": '
                  '[id, ...]} (labels as in the merge\'s `moved`).',
    )


class LikelyQuery(serializers.Serializer):
    """What the desk has typed so far."""

    full_name = serializers.CharField(max_length=200)
    father_name = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    dob = serializers.DateField(required=False, allow_null=True, default=None)
    dob_estimated = serializers.BooleanField(required=False, default=False)
    sex = serializers.ChoiceField(choices=Patient.Sex.choices, required=False, default="", allow_blank=True)
    phone = serializers.CharField(max_length=25, required=False, default="", allow_blank=True)
    cnic = serializers.CharField(max_length=15, required=False, default="", allow_blank=True)


class LikelyOut(serializers.Serializer):
    """A likely duplicate: the patient, the score (0..1) and why."""

    id = serializers.IntegerField()
    mrn = serializers.CharField()
    full_name = serializers.CharField()
    father_name = serializers.CharField()
    score = serializers.FloatField()
    reasons = serializers.ListField(child=serializers.CharField())


def likely_duplicates_of(query: dict, patients) -> list[dict]:
    """The LikelyOut rows for the demographics `query` (LikelyQuery's validated data) among `patients`."""
    record = duplicates.Record(**query)
    return [
        {"id": p.pk, "mrn": p.mrn, "full_name": p.full_name, "father_name": p.father_name, "score": match.score,
         "reasons": match.reasons}
        for p, match in duplicates.likely_duplicates(patients.filter(merged_into__isnull=True), record)
    ]


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

    def get_permissions(self):
        """Merging checks its own permission (MERGE_PERMISSION) instead of the model's add/change."""
        if self.action in ("merge", "unmerge"):
            return [permissions.IsAuthenticated()]
        return super().get_permissions()

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

    @extend_schema(parameters=[LikelyQuery], responses=LikelyOut(many=True))
    @action(detail=False, methods=["get"], url_path="likely-duplicates")
    def likely_duplicates(self, request):
        """Patients likely to be the one being typed (the desk's hint), best first, each with its score and why."""
        query = LikelyQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(likely_duplicates_of(query.validated_data, self.get_queryset()))

    @extend_schema(request=MergeIn, responses={201: MergeOut})
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        """Merge record `other` into this one (needs `patients.merge_patient`): this record keeps its MRN, the
        other's is retired and keeps finding this one. 409 when either changed since the versions sent."""
        if not request.user.has_perm(MERGE_PERMISSION):
            raise exceptions.PermissionDenied("Your role may not merge patient records.")
        data = MergeIn(data=request.data)
        data.is_valid(raise_exception=True)
        survivor = self.get_object()
        other = self.get_queryset().filter(pk=data.validated_data["other"]).first()
        if other is None:
            raise exceptions.NotFound(f"No patient {data.validated_data['other']}.")
        versions = {}
        for patient, key in ((survivor, "survivor_version"), (other, "other_version")):
            if key in data.validated_data:
                versions[patient.pk] = data.validated_data[key]
        done = merge.merge_patients(
            survivor=survivor, merged=other, reason=data.validated_data["reason"], merged_by=request.user,
            cnic_override=data.validated_data["cnic_override"], versions=versions,
        )
        return Response(MergeOut(done).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=UnmergeIn, responses=MergeOut)
    @action(detail=True, methods=["post"])
    def unmerge(self, request, pk=None):
        """Undo the merge that retired this record (needs `patients.merge_patient`)."""
        if not request.user.has_perm(MERGE_PERMISSION):
            raise exceptions.PermissionDenied("Your role may not unmerge patient records.")
        data = UnmergeIn(data=request.data)
        data.is_valid(raise_exception=True)
        done = PatientMerge.objects.filter(merged=self.get_object(), unmerged_at__isnull=True).first()
        if done is None:
            raise exceptions.NotFound("This record is not merged into another.")
        return Response(MergeOut(merge.unmerge(done, reason=data.validated_data["reason"], unmerged_by=request.user,
                                               also_move=data.validated_data["also_move"])).data)

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
