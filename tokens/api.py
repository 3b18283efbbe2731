"""REST API of OPD tokens at seed 002's paths under /api/v1/: doctors, slots, tokens, waiting list, daily report.

Views are thin: input serializers check shapes, `tokens.services` applies the rules, output serializers show rows
with their derived queue fields (`tokens.selectors`). Permissions: `core.api.RolePermissions` (core/roles.py).
"""

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from core.dates import validate_query_day
from core.errors import NotFound
from patients.models import Patient
from patients.selectors import Unparsable, by_mrn, of_visible, visible_to
from tokens import reports, selectors, services
from tokens.models import Category, Doctor, Slot, Token, WaitingListEntry

UUID_PATTERN = "[0-9a-fA-F-]{32,36}"  # malformed ids do not match the route, so they get 404 like unknown ones


class DoctorIn(serializers.Serializer):
    """What a client may send for a doctor."""

    name = serializers.CharField(max_length=200)
    specialization = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class DoctorOut(serializers.ModelSerializer):
    """A doctor as the API shows it."""

    class Meta:
        model = Doctor
        fields = ["id", "name", "specialization", "created_at"]
        read_only_fields = fields


class DoctorViewSet(viewsets.ModelViewSet):
    """Doctors: list, add, read, change, delete (only a doctor with no slots)."""

    queryset = Doctor.objects.all()
    serializer_class = DoctorOut
    lookup_value_regex = UUID_PATTERN

    @extend_schema(request=DoctorIn, responses={201: DoctorOut})
    def create(self, request):
        data = DoctorIn(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(DoctorOut(services.create_doctor(**data.validated_data)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=DoctorIn, responses=DoctorOut)
    def update(self, request, pk=None, partial=False):
        doctor = self.get_object()
        data = DoctorIn(data=request.data, partial=partial)  # a body that is no object is a 400
        data.is_valid(raise_exception=True)
        changes = {"name": doctor.name, "specialization": doctor.specialization, **data.validated_data}
        return Response(DoctorOut(services.update_doctor(doctor, **changes)).data)

    @extend_schema(request=DoctorIn, responses=DoctorOut)
    def partial_update(self, request, pk=None):
        return self.update(request, pk, partial=True)

    def destroy(self, request, pk=None):
        services.delete_doctor(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class SlotIn(serializers.Serializer):
    """A new slot: aware times (ISO 8601); capacity 1 to 1000."""

    doctor = serializers.UUIDField(help_text="The doctor's id.")
    start_time = serializers.DateTimeField()
    end_time = serializers.DateTimeField()
    max_capacity = serializers.IntegerField(min_value=1, max_value=1000)


class SlotOut(serializers.ModelSerializer):
    """A slot with its places: `free_places` for ordinary bookings, `emergency_overflow` above capacity."""

    doctor_name = serializers.CharField(source="doctor.name", read_only=True)

    class Meta:
        model = Slot
        fields = [
            "id", "doctor", "doctor_name", "start_time", "end_time", "max_capacity", "current_capacity",
            "emergency_overflow", "free_places", "status", "delay_minutes", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class DelayedOut(SlotOut):
    """A delayed slot and the later slots of the doctor that day whose delay changed with it."""

    cascaded = SlotOut(many=True, read_only=True)

    class Meta(SlotOut.Meta):
        fields = [*SlotOut.Meta.fields, "cascaded"]


class DelayIn(serializers.Serializer):
    """How late the slot runs, 0 to 720 minutes."""

    delay_minutes = serializers.IntegerField(min_value=0, max_value=services.MAX_DELAY_MINUTES)


class PatientRefIn(serializers.Serializer):
    """A booking's slot and patient; the patient by id (`patient_id`) or by MRN (`mrn`)."""

    slot_id = serializers.UUIDField()
    patient_id = serializers.IntegerField(required=False)
    mrn = serializers.CharField(required=False, max_length=20)

    def validate(self, attrs):
        if ("patient_id" in attrs) == ("mrn" in attrs):
            raise serializers.ValidationError({"patient_id": ["Name the patient by patient_id or by mrn (one)."]})
        return attrs

    def patient(self, user) -> Patient:
        """The patient named, among those `user` may read (patients.selectors.visible_to): by id, or by MRN written
        any way (`001-00-001`, `00100001`, the old `01-00-001`, an offline slip's `710000`: patients.selectors.by_mrn).
        NotFound (404) if none; ValidationError (400, naming the pattern) for an MRN of no scheme."""
        visible = visible_to(user)
        if "patient_id" in self.validated_data:
            named, patients = f"id {self.validated_data['patient_id']}", visible.filter(
                pk=self.validated_data["patient_id"])
        else:
            named = f"MRN {self.validated_data['mrn']}"
            try:
                patients = by_mrn(visible, self.validated_data["mrn"])
            except Unparsable as exc:
                raise serializers.ValidationError({"mrn": [str(exc)]}) from None
        patient = patients.first()
        if patient is None:
            raise NotFound(f"No patient with {named}.")
        return patient


class TokenIn(PatientRefIn):
    """A booking: slot, patient, and one of the five categories."""

    category = serializers.ChoiceField(
        choices=Category.choices,
        error_messages={"invalid_choice": f"\"{{input}}\" is not a category; choose one of {', '.join(Category.values)}."},
    )


class TokenOut(serializers.ModelSerializer):
    """A token with its derived queue fields (see tokens.selectors.tokens_in_queue)."""

    doctor = serializers.UUIDField(source="slot.doctor_id", read_only=True)
    doctor_name = serializers.CharField(source="slot.doctor.name", read_only=True)
    patient_mrn = serializers.CharField(source="patient.mrn", read_only=True)
    patient_name = serializers.CharField(source="patient.full_name", read_only=True)
    final_priority = serializers.FloatField(read_only=True)
    position = serializers.IntegerField(read_only=True, allow_null=True)
    estimated_time = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Token
        fields = [
            "id", "slot", "doctor", "doctor_name", "patient", "patient_mrn", "patient_name", "token_number",
            "category", "priority", "final_priority", "status", "position", "estimated_time", "actual_time",
            "checked_in_at", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class WaitingOut(serializers.ModelSerializer):
    """A waiting-list entry with its place on the slot's waiting list."""

    patient_mrn = serializers.CharField(source="patient.mrn", read_only=True)
    patient_name = serializers.CharField(source="patient.full_name", read_only=True)
    final_priority = serializers.FloatField(read_only=True)
    waiting_position = serializers.IntegerField(read_only=True)

    class Meta:
        model = WaitingListEntry
        fields = [
            "id", "slot", "patient", "patient_mrn", "patient_name", "category", "priority", "final_priority",
            "waiting_position", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class EndedOut(serializers.Serializer):
    """The answer to a cancellation or no-show: the token, and who got its place."""

    token = TokenOut()
    promoted = TokenOut(allow_null=True, help_text="The waiting patient who got the freed place, if any.")


class SlotFilter(django_filters.FilterSet):
    """`?doctor=&status=&date=` on the slot list."""

    date = django_filters.DateFilter(
        method="on_day", label="Day (YYYY-MM-DD, hospital time zone)", validators=[validate_query_day]
    )

    class Meta:
        model = Slot
        fields = ["doctor", "status"]

    def on_day(self, queryset, name, value):
        start, end = selectors.day_bounds(value)
        return queryset.filter(start_time__gte=start, start_time__lt=end)


class SlotViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Slots: list (filter by doctor, status, date), open, read; `delay/` and `tokens/` per slot."""

    queryset = Slot.objects.select_related("doctor")
    serializer_class = SlotOut
    filterset_class = SlotFilter
    lookup_value_regex = UUID_PATTERN

    @extend_schema(request=SlotIn, responses={201: SlotOut})
    def create(self, request):
        data = SlotIn(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        doctor = services.get_or_not_found(Doctor, fields.pop("doctor"))
        return Response(SlotOut(services.create_slot(doctor=doctor, **fields)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=DelayIn, responses=DelayedOut)
    @action(detail=True, methods=["put"])
    def delay(self, request, pk=None):
        """Mark the slot `delay_minutes` late (0-720); later slots of the doctor that day follow. Returns the slot,
        with `cascaded`: the later slots whose delay changed."""
        data = DelayIn(data=request.data)
        data.is_valid(raise_exception=True)
        slot, *cascaded = services.delay_slot(slot_id=pk, **data.validated_data)
        return Response({**SlotOut(slot).data, "cascaded": SlotOut(cascaded, many=True).data})

    # The whole list, not a page (a slot holds at most 1000 tokens), and no list filters: documented as it answers.
    @extend_schema(responses=TokenOut(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def tokens(self, request, pk=None):
        """The slot's tokens in current order: confirmed by position (with estimated time), then the others: a
        list, not a page."""
        return Response(TokenOut(selectors.slot_queue(self.get_object()), many=True).data)


class TokenFilter(django_filters.FilterSet):
    """`?slot=&doctor=&date=&status=&category=` on the token list."""

    date = django_filters.DateFilter(
        field_name="day", label="Day of the slot (YYYY-MM-DD)", validators=[validate_query_day]
    )

    class Meta:
        model = Token
        fields = ["slot", "doctor", "status", "category"]


class TokenViewSet(mixins.DestroyModelMixin, viewsets.ReadOnlyModelViewSet):
    """Tokens: list (filter by slot, doctor, date, status, category), book, read, cancel (DELETE), `emergency/`,
    `{id}/check_in/`, `{id}/no_show/`, `{id}/complete/`."""

    queryset = Token.objects.all()
    serializer_class = TokenOut
    filterset_class = TokenFilter
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        return of_visible(selectors.tokens_in_queue(), self.request.user).order_by("-created_at", "token_number")

    @extend_schema(request=TokenIn, responses={201: TokenOut, 202: WaitingOut})
    def create(self, request):
        """Book a token; 202 with the waiting-list entry and its waiting position when the slot is full."""
        return self._book(request, TokenIn)

    @extend_schema(request=PatientRefIn, responses={201: TokenOut})
    @action(detail=False, methods=["post"])
    def emergency(self, request):
        """Insert an emergency: always a token, above capacity if needed, ordered first."""
        return self._book(request, PatientRefIn, category=Category.EMERGENCY)

    def _book(self, request, serializer, **fixed):
        data = serializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = {**data.validated_data, **fixed}
        booked = services.book_token(
            slot_id=fields["slot_id"], patient=data.patient(request.user), category=fields["category"],
            booked_by=request.user
        )
        if isinstance(booked, Token):
            return Response(TokenOut(self.get_queryset().get(pk=booked.pk)).data, status=status.HTTP_201_CREATED)
        entry = selectors.waiting_in_queue().get(pk=booked.pk)
        return Response(
            {**WaitingOut(entry).data, "detail": "The slot is full: the patient is on its waiting list."},
            status=status.HTTP_202_ACCEPTED,
        )

    # 200 with a body, not 204: the desk needs to know who got the place (seed 002 names no answer).
    @extend_schema(responses={200: EndedOut})
    def destroy(self, request, pk=None):
        """Cancel the token (its number is never reissued); the best waiting patient gets the place. Answers 200
        with the cancelled token and the promoted one (or null)."""
        return self._ended(*services.cancel_token(token_id=pk, by=request.user))

    @extend_schema(request=None, responses=TokenOut)
    @action(detail=True, methods=["post"])
    def check_in(self, request, pk=None):
        """The patient has arrived (`checked_in_at`, the first time kept: a second check-in changes nothing). Past
        the slot's start plus OPD_CHECK_IN_GRACE_MINUTES the doctor's call-next takes only checked-in tokens."""
        token = services.check_in(token_id=pk)
        return Response(TokenOut(self.get_queryset().get(pk=token.pk)).data)

    @extend_schema(request=None, responses=EndedOut)
    @action(detail=True, methods=["post"])
    def no_show(self, request, pk=None):
        """Mark the token a no-show; the best waiting patient gets the place."""
        return self._ended(*services.mark_no_show(token_id=pk, by=request.user))

    @extend_schema(request=None, responses=TokenOut)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        """Record the consultation as done now (`actual_time`)."""
        token = services.complete_token(token_id=pk)
        return Response(TokenOut(self.get_queryset().get(pk=token.pk)).data)

    def _ended(self, token, promoted):
        rows = self.get_queryset()
        return Response({
            "token": TokenOut(rows.get(pk=token.pk)).data,
            "promoted": TokenOut(rows.get(pk=promoted.pk)).data if promoted else None,
        })


class WaitingListViewSet(viewsets.ReadOnlyModelViewSet):
    """Waiting-list entries (filter by slot) with their waiting position; `by_slot/?slot_id=` for one slot."""

    queryset = WaitingListEntry.objects.all()
    serializer_class = WaitingOut
    filterset_fields = ["slot"]
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        entries = of_visible(selectors.waiting_in_queue(), self.request.user)
        return entries.order_by("slot__start_time", "waiting_position")

    # The whole list, not a page, filtered by `slot_id` only: documented as it answers.
    @extend_schema(parameters=[OpenApiParameter("slot_id", OpenApiTypes.UUID, required=True)],
                   responses=WaitingOut(many=True))
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def by_slot(self, request):
        """One slot's waiting list, best first: a list, not a page."""
        if not request.query_params.get("slot_id"):
            raise serializers.ValidationError({"slot_id": ["This query parameter is required."]})
        slot = services.get_or_not_found(Slot, request.query_params["slot_id"])
        return Response(WaitingOut(self.get_queryset().filter(slot=slot), many=True).data)


class ReportQuery(serializers.Serializer):
    """The daily report's query: `date` (default today, hospital time zone) and optional `doctor_id`."""

    date = serializers.DateField(required=False, validators=[validate_query_day])
    doctor_id = serializers.UUIDField(required=False)


class DailyReportView(APIView):
    """`GET reports/daily/?date=YYYY-MM-DD&doctor_id=UUID`: the day's figures per doctor and in total."""

    queryset = Token.objects.none()  # RolePermissions: reading the report needs tokens.view_token

    @extend_schema(parameters=[ReportQuery], responses=dict)
    def get(self, request):
        query = ReportQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(reports.daily_report(**reports.report_args(**query.validated_data)))
