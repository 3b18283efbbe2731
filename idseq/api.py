"""REST API for sequences, under /api/v1/sequences/. Thin: each action is one service or selector call.

An `Idempotency-Key` header on `next/` and `bulk/` makes a retry return the first request's ids (see
`services.issue`); the same key with a different body gets 422.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.dates import validate_query_day
from idseq import selectors, services
from idseq.models import IssuedNumber, Sequence

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Send the same key when retrying: the same request returns the same ids; a different body, 422.",
)


class UsageOut(serializers.Serializer):
    """selectors.Usage: capacity of the format, issued, reserved, percent used, 30-day rate, forecast and level."""

    scope = serializers.CharField()
    next_id = serializers.CharField(allow_null=True)
    capacity = serializers.IntegerField()
    issued = serializers.IntegerField()
    reserved = serializers.IntegerField(help_text="Values reserved above the counter; counted as used.")
    percent_used = serializers.FloatField()
    rate_per_day = serializers.FloatField()
    days_to_exhaustion = serializers.FloatField(allow_null=True)
    level = serializers.ChoiceField(choices=selectors.LEVELS)


class SequenceIn(serializers.ModelSerializer):
    """A new sequence. Letter-number sequences are keyed by their prefix (`^[A-Z][A-Z0-9]{0,9}$`)."""

    class Meta:
        model = Sequence
        fields = ["key", "kind", "prefix", "padding", "start_value", "reset", "check_digit", "is_active"]
        # Uniqueness is the service's (full_clean) to check, once.
        extra_kwargs = {"key": {"validators": []}}
        validators = []


class SequenceOut(serializers.ModelSerializer):
    """A sequence with its usage in the current period."""

    usage = serializers.SerializerMethodField()

    class Meta:
        model = Sequence
        fields = ["key", "kind", "prefix", "padding", "start_value", "reset", "check_digit", "is_active", "usage"]
        read_only_fields = fields

    @extend_schema_field(UsageOut)
    def get_usage(self, sequence):
        return UsageOut(self.context["usage"][sequence.key]).data


class NextIn(serializers.Serializer):
    purpose = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)


class NextOut(serializers.Serializer):
    id = serializers.CharField()


class BulkIn(NextIn):
    count = serializers.IntegerField(min_value=1, max_value=services.MAX_BLOCK)


class BulkOut(serializers.Serializer):
    ids = serializers.ListField(child=serializers.CharField())


class ResetIn(serializers.Serializer):
    last_id = serializers.CharField(max_length=64, help_text="The id to count as the last one issued.")


class ResetOut(serializers.Serializer):
    key = serializers.CharField()
    next_id = serializers.CharField(allow_null=True, help_text="null when the format has no id left")


class VoidIn(serializers.Serializer):
    id = serializers.CharField(max_length=64)
    reason = serializers.CharField(max_length=200)


class IssuedQuery(serializers.Serializer):
    """Filters of the ledger listing: a day or days (hospital's time zone) and an id range, all optional."""

    date = serializers.DateField(required=False, help_text="Issued on this day.", validators=[validate_query_day])
    date_from = serializers.DateField(required=False, validators=[validate_query_day])
    date_to = serializers.DateField(required=False, validators=[validate_query_day])
    from_id = serializers.CharField(required=False, help_text="First id of a range, in the sequence's format.")
    to_id = serializers.CharField(required=False, help_text="Last id of a range, in the sequence's format.")


class IssuedOut(serializers.ModelSerializer):
    id = serializers.CharField(source="formatted")
    issued_by = serializers.StringRelatedField(allow_null=True)
    idempotency_key = serializers.StringRelatedField(allow_null=True)
    voided_by = serializers.StringRelatedField(allow_null=True)

    class Meta:
        model = IssuedNumber
        fields = ["id", "value", "scope", "issued_at", "issued_by", "purpose", "idempotency_key", "voided_at",
                  "voided_by", "void_reason"]
        read_only_fields = fields


class HealthOut(serializers.Serializer):
    status = serializers.ChoiceField(choices=["healthy", "unhealthy"])
    message = serializers.CharField()
    sequence_count = serializers.IntegerField(required=False)
    db_roundtrip_ms = serializers.FloatField(required=False)
    sample_id = serializers.CharField(required=False)
    timestamp = serializers.CharField()
    level = serializers.ChoiceField(choices=selectors.LEVELS, required=False, help_text="the worst of `sequences`")
    sequences = serializers.ListField(child=serializers.DictField(), required=False,
                                      help_text="selectors.Usage of every sequence, with its key and kind")


class HasPermission(permissions.BasePermission):
    """A logged-in user holding one model permission (roles grant them, core/roles.py)."""

    def __init__(self, perm: str):
        self.perm = perm

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.has_perm(self.perm))


class SequenceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Sequences: list with usage, create (admin), detail, next, bulk, reset (admin), ledger, void, health."""

    queryset = Sequence.objects.all()
    serializer_class = SequenceOut
    lookup_field = "key"
    lookup_value_regex = r"[A-Za-z0-9_.-]+"
    # Actions beyond the model permissions of the default RolePermissions (list/detail: view, create: add).
    action_permissions = {
        "next": "idseq.issue_number",
        "bulk": "idseq.issue_number",
        "reset": "idseq.reset_sequence",
        "issued": "idseq.view_issuednumber",
        "void": "idseq.change_issuednumber",
        "health": "idseq.view_sequence",
    }

    def get_permissions(self):
        perm = self.action_permissions.get(self.action)
        return [HasPermission(perm)] if perm else super().get_permissions()

    def _out(self, sequences, many=False):
        """SequenceOut data of one sequence or a page of them, their usage computed together."""
        usage = {row.key: row for row in selectors.sequence_usage(sequences if many else [sequences])}
        return SequenceOut(sequences, many=many, context={"usage": usage}).data

    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self._out(page, many=True))

    def retrieve(self, request, key=None):
        return Response(self._out(self.get_object()))

    @extend_schema(request=SequenceIn, responses={201: SequenceOut})
    def create(self, request):
        data = SequenceIn(data=request.data)
        data.is_valid(raise_exception=True)
        sequence = services.create_sequence(**data.validated_data)
        return Response(self._out(sequence), status=status.HTTP_201_CREATED)

    def _issue(self, request, key, count, purpose):
        issued = services.issue(
            key,
            count,
            idempotency_key=request.headers.get("Idempotency-Key"),
            fingerprint=services.request_fingerprint(request.data),
            purpose=purpose,
            issued_by=request.user,
        )
        # A replay answers exactly as the first request did, flagged by a header.
        return issued, {"Idempotent-Replayed": "true"} if issued.replayed else {}

    @extend_schema(request=NextIn, responses={201: NextOut}, parameters=[IDEMPOTENCY_HEADER])
    @action(detail=True, methods=["post"])
    def next(self, request, key=None):
        """Issue the next id of `key`; an unknown valid prefix creates its sequence (seed 004)."""
        data = NextIn(data=request.data)
        data.is_valid(raise_exception=True)
        issued, headers = self._issue(request, key, 1, data.validated_data["purpose"])
        return Response({"id": issued.ids[0]}, status=status.HTTP_201_CREATED, headers=headers)

    @extend_schema(request=BulkIn, responses={201: BulkOut}, parameters=[IDEMPOTENCY_HEADER])
    @action(detail=True, methods=["post"])
    def bulk(self, request, key=None):
        """Issue `count` (1 to 10,000) consecutive ids of `key` at once."""
        data = BulkIn(data=request.data)
        data.is_valid(raise_exception=True)
        issued, headers = self._issue(request, key, data.validated_data["count"], data.validated_data["purpose"])
        return Response({"ids": issued.ids}, status=status.HTTP_201_CREATED, headers=headers)

    @extend_schema(request=ResetIn, responses=ResetOut)
    @action(detail=True, methods=["post"])
    def reset(self, request, key=None):
        """Move `key` forward so that `last_id` is the last id issued (never back: 409)."""
        data = ResetIn(data=request.data)
        data.is_valid(raise_exception=True)
        next_id = services.reset_sequence(key, data.validated_data["last_id"], reset_by=request.user)
        return Response({"key": key, "next_id": next_id})

    @extend_schema(request=VoidIn, responses=IssuedOut)
    @action(detail=True, methods=["post"])
    def void(self, request, key=None):
        """Mark an issued id void (its record was removed); it is never issued again."""
        data = VoidIn(data=request.data)
        data.is_valid(raise_exception=True)
        number = services.void_id(
            key, data.validated_data["id"], reason=data.validated_data["reason"], voided_by=request.user
        )
        return Response(IssuedOut(number).data)

    @extend_schema(parameters=[IssuedQuery], responses=IssuedOut(many=True))
    @action(detail=True, methods=["get"])
    def issued(self, request, key=None):
        """The ledger of `key` in value order, paginated; filters `date`, `date_from`/`date_to`, `from_id`/`to_id`."""
        query = IssuedQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        numbers = selectors.issued_numbers(self.get_object(), **query.validated_data)
        page = self.paginate_queryset(numbers)
        return self.get_paginated_response(IssuedOut(page, many=True).data)

    @extend_schema(responses={200: HealthOut, 503: HealthOut})
    @action(detail=False, methods=["get"])
    def health(self, request):
        """Numbering health (seed 004) with per-sequence usage; 503 when the database does not answer.
        The sample id is rendered in a rolled-back savepoint: the check consumes no number."""
        report = services.health_check()
        code = status.HTTP_200_OK if report["status"] == "healthy" else status.HTTP_503_SERVICE_UNAVAILABLE
        return Response(report, status=code)

