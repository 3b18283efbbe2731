"""REST API for queues, under /api/v1/: `queues/`, `desks/`, `visits/` and the desk actions.

Views stay thin: input serializers validate, one service call does the work, output serializers show the result.
Services raise `core.errors.DomainError` subclasses (409 with `detail`).
"""

import re

import django_filters
from django.db.models import ProtectedError
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404  # a malformed id is a 404 too, not a 500
from rest_framework.response import Response

from core.dates import validate_query_day
from core.serializers import ModelSerializer
from core.errors import DomainError
from idseq.api import IDEMPOTENCY_HEADER
from idseq.services import request_fingerprint
from patients.selectors import of_visible, visible_to
from queues import selectors, services
from queues.models import Desk, Queue, Visit


class CanRunDesks(permissions.BasePermission):
    """Desk work (call next and every step of a visit) needs `queues.change_visit` (reception, admin)."""

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.has_perm("queues.change_visit"))


class QueueSerializer(serializers.ModelSerializer):
    """A queue, as admins create and edit it and everyone reads it."""

    class Meta:
        model = Queue
        fields = ["id", "name", "code", "is_active", "default_service_minutes"]
        # The database's check constraints (queues/models.py), checked first for a clear 400.
        extra_kwargs = {"default_service_minutes": {"min_value": 1}}

    def validate_code(self, value):
        if not re.fullmatch(r"[A-Z][A-Z0-9]*", value):
            raise serializers.ValidationError("Capital letters and digits, starting with a letter, e.g. LAB.")
        return value


class DeskSerializer(serializers.ModelSerializer):
    """A desk and the ids of the queues it serves."""

    queues = serializers.PrimaryKeyRelatedField(queryset=Queue.objects.all(), many=True)

    class Meta:
        model = Desk
        fields = ["id", "name", "queues", "is_active"]


class BoardCallOut(serializers.Serializer):
    """A call on a board: the token, its queue's code, the desk and when it was announced."""

    token = serializers.CharField()
    queue = serializers.CharField(help_text="The queue's code.")
    desk = serializers.CharField(help_text="The desk's name.")
    announced_at = serializers.DateTimeField()


class BoardNextOut(serializers.Serializer):
    """A waiting token and its place in the line."""

    token = serializers.CharField()
    position = serializers.IntegerField()


class BoardQueueOut(serializers.Serializer):
    """One queue on a board: how many wait and the first few tokens."""

    code = serializers.CharField()
    name = serializers.CharField()
    waiting = serializers.IntegerField()
    next = BoardNextOut(many=True)


class BoardOut(serializers.Serializer):
    """What a board shows (queues.selectors.board): tokens only, never patients' names."""

    called = BoardCallOut(many=True, help_text="Newest announcement first.")
    queues = BoardQueueOut(many=True)


class IntegrityOut(serializers.Serializer):
    """Seed 003's integrity report (queues.selectors.integrity): numbers in 1..max missing or given twice."""

    queue = serializers.CharField(help_text="The queue's code.")
    date = serializers.DateField()
    waiting = serializers.IntegerField()
    missing_positions = serializers.ListField(child=serializers.IntegerField())
    duplicate_positions = serializers.ListField(child=serializers.IntegerField())
    max_position = serializers.IntegerField()
    missing_tokens = serializers.ListField(child=serializers.IntegerField())
    duplicate_tokens = serializers.ListField(child=serializers.IntegerField())
    max_token = serializers.IntegerField()
    ok = serializers.BooleanField(help_text="True when nothing is missing or duplicated.")


class DayQuery(serializers.Serializer):
    """`?date=YYYY-MM-DD` (a day in the hospital's time zone); today when absent."""

    date = serializers.DateField(required=False, validators=[validate_query_day])

    @classmethod
    def day(cls, request):
        query = cls(data=request.query_params)
        query.is_valid(raise_exception=True)
        return query.validated_data.get("date") or timezone.localdate()


@extend_schema_field(OpenApiTypes.STR)
class QueueRef(serializers.Field):
    """A queue given by id (`3`) or code (`"LAB"`); unknown queues are 404, like every unknown id."""

    def to_internal_value(self, data):
        return selectors.find_queue(str(data))

    def to_representation(self, value):
        return value.pk


class VisitIn(serializers.Serializer):
    """Issue a token: `patient` (id), `queue` (id or code), `priority` (high/medium/low, default medium)."""

    patient = serializers.IntegerField()
    queue = QueueRef()
    priority = serializers.ChoiceField(choices=Visit.Priority.choices, default=Visit.Priority.MEDIUM)

    def validate_patient(self, value):
        return get_object_or_404(visible_to(self.context["request"].user), pk=value)


class TransferIn(serializers.Serializer):
    """Transfer a visit: `queue` (id or code) to send the patient to."""

    queue = QueueRef()


class VisitOut(ModelSerializer):
    """A visit with its token, and for waiting visits its position and estimated wait (minutes)."""

    token = serializers.CharField(read_only=True)
    queue_code = serializers.CharField(source="queue.code", read_only=True)
    mrn = serializers.CharField(source="patient.mrn", read_only=True)
    desk_name = serializers.CharField(source="desk.name", read_only=True, default=None, allow_null=True)
    position = serializers.IntegerField(read_only=True, allow_null=True)
    estimated_wait_minutes = serializers.IntegerField(read_only=True, allow_null=True)
    issued_by = serializers.StringRelatedField(allow_null=True)
    called_by = serializers.StringRelatedField(allow_null=True)
    started_by = serializers.StringRelatedField(allow_null=True)
    completed_by = serializers.StringRelatedField(allow_null=True)

    class Meta:
        model = Visit
        fields = [
            "id", "token", "token_number", "queue", "queue_code", "visit_date", "patient", "mrn", "priority",
            "status", "position", "estimated_wait_minutes", "desk", "desk_name", "transferred_from",
            "issued_at", "issued_by", "called_at", "called_by", "started_at", "started_by", "completed_at",
            "completed_by", "no_show_at", "recalled_at", "cancelled_at", "transferred_at",
        ]
        read_only_fields = fields


class VisitFilter(django_filters.FilterSet):
    """`?queue=<id>&queue_code=GEN&date=YYYY-MM-DD&status=waiting&priority=high`."""

    date = django_filters.DateFilter(field_name="visit_date", validators=[validate_query_day])
    queue_code = django_filters.CharFilter(field_name="queue__code", lookup_expr="iexact")

    class Meta:
        model = Visit
        fields = ["queue", "status", "priority", "patient"]


def show_visit(visit: Visit, status_code: int = status.HTTP_200_OK) -> Response:
    """Answer with a visit as it is now, with its position and estimate when it is waiting."""
    (visit,) = selectors.with_positions([visit])
    return Response(VisitOut(visit).data, status=status_code)


class ProtectedDeleteMixin:
    """DELETE of a row visits still point to answers 409 (deactivate it instead), not a 500."""

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except ProtectedError:
            raise DomainError(f"{instance} has visits; set is_active to false instead of deleting it.")


class QueueViewSet(ProtectedDeleteMixin, viewsets.ModelViewSet):
    """Queues: everyone with view_queue reads them; admins create and edit them."""

    queryset = Queue.objects.all()
    serializer_class = QueueSerializer

    @extend_schema(parameters=[DayQuery], responses=IntegrityOut)
    @action(detail=True, methods=["get"])
    def integrity(self, request, pk=None):
        """Seed 003's integrity report for positions and tokens on `?date=` (today by default)."""
        return Response(selectors.integrity(queue=self.get_object(), visit_date=DayQuery.day(request)))

    @extend_schema(responses=BoardOut)
    @action(detail=True, methods=["get"])
    def board(self, request, pk=None):
        """The board's contents (tokens called and next waiting) as JSON, for other displays."""
        return Response(selectors.board(queues=[self.get_object()], visit_date=timezone.localdate()))


class DeskViewSet(ProtectedDeleteMixin, viewsets.ModelViewSet):
    """Desks and the queues they serve (admins edit them); `POST desks/{id}/call-next/` calls the next visit."""

    queryset = Desk.objects.prefetch_related("queues")
    serializer_class = DeskSerializer
    lookup_value_regex = r"\d+"

    @extend_schema(request=None, responses={200: VisitOut})
    @action(detail=True, methods=["post"], url_path="call-next", permission_classes=[CanRunDesks])
    def call_next(self, request, pk=None):
        # The service reads the desk under its lock (404 when it is gone): no query here to load it first.
        visit = services.call_next(desk=Desk(pk=int(pk)), called_by=request.user)
        return show_visit(visit)


class VisitViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Visits: issue a token (POST), list and read them, and one endpoint per step of a visit."""

    queryset = Visit.objects.select_related(
        "queue", "patient", "desk", "issued_by", "called_by", "started_by", "completed_by"
    ).order_by("-visit_date", "queue_id", "token_number")
    serializer_class = VisitOut
    filterset_class = VisitFilter

    def get_queryset(self):
        return of_visible(super().get_queryset(), self.request.user)  # visits name their patient

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        return None if page is None else selectors.with_positions(page)

    def get_object(self):
        (visit,) = selectors.with_positions([super().get_object()])
        return visit

    @extend_schema(request=VisitIn, responses={201: VisitOut}, parameters=[IDEMPOTENCY_HEADER])
    def create(self, request):
        data = VisitIn(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        visit = services.issue_visit(
            **data.validated_data,
            issued_by=request.user,
            idempotency_key=request.headers.get("Idempotency-Key", ""),  # a retry gets the first visit back
            fingerprint=request_fingerprint(request.data),
        )
        return show_visit(visit, status.HTTP_201_CREATED)

    def _step(self, service, **kwargs):
        """Run one step service on the visit of the URL and answer with the visit as it is now."""
        visits = of_visible(Visit.objects.select_related("queue", "patient"), self.request.user)
        visit = get_object_or_404(visits, pk=self.kwargs["pk"])
        return show_visit(service(visit=visit, **kwargs))

    @extend_schema(request=None, responses=VisitOut)
    @action(detail=True, methods=["post"], permission_classes=[CanRunDesks])
    def start(self, request, pk=None):
        return self._step(services.start_visit, started_by=request.user)

    @extend_schema(request=None, responses=VisitOut)
    @action(detail=True, methods=["post"], permission_classes=[CanRunDesks])
    def complete(self, request, pk=None):
        return self._step(services.complete_visit, completed_by=request.user)

    @extend_schema(request=None, responses=VisitOut)
    @action(detail=True, methods=["post"], url_path="no-show", permission_classes=[CanRunDesks])
    def no_show(self, request, pk=None):
        return self._step(services.mark_no_show, marked_by=request.user)

    @extend_schema(request=None, responses=VisitOut)
    @action(detail=True, methods=["post"], permission_classes=[CanRunDesks])
    def recall(self, request, pk=None):
        return self._step(services.recall_visit, recalled_by=request.user)

    @extend_schema(request=None, responses=VisitOut)
    @action(detail=True, methods=["post"], permission_classes=[CanRunDesks])
    def cancel(self, request, pk=None):
        return self._step(services.cancel_visit, cancelled_by=request.user)

    @extend_schema(request=TransferIn, responses={201: VisitOut})
    @action(detail=True, methods=["post"], permission_classes=[CanRunDesks])
    def transfer(self, request, pk=None):
        """Answers with the new visit in the other queue (201); the original is now `transferred`."""
        data = TransferIn(data=request.data)
        data.is_valid(raise_exception=True)
        visit = get_object_or_404(Visit.objects.select_related("queue", "patient"), pk=pk)
        new = services.transfer_visit(visit=visit, to_queue=data.validated_data["queue"], transferred_by=request.user)
        return show_visit(new, status.HTTP_201_CREATED)
