"""The OPD daily report (seed 002 `reports/daily/`): figures per doctor and in total, computed by
aggregate queries. The API answers it as JSON; the report page draws it and offers it as CSV."""

import csv
import datetime
import io

from django.db.models import Avg, Count, F, Q, Sum
from django.db.models.functions import Coalesce, ExtractHour
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import NotFound
from core.spreadsheet import safe_row
from tokens import selectors
from tokens.models import Category, Doctor, Slot, Token, WaitingListEntry

LIVE = ~Q(status=Slot.Status.CANCELLED)

SLOT_FIGURES = {
    "slots": Count("id", filter=LIVE),
    "capacity": Coalesce(Sum("max_capacity", filter=LIVE), 0),
    "mean_delay": Avg("delay_minutes", filter=LIVE),
}
TOKEN_FIGURES = {
    "confirmed": Count("id", filter=Q(status=Token.Status.CONFIRMED)),
    "completed": Count("id", filter=Q(status=Token.Status.COMPLETED)),
    "cancelled": Count("id", filter=Q(status=Token.Status.CANCELLED)),
    "no_shows": Count("id", filter=Q(status=Token.Status.NO_SHOW)),
    "emergencies": Count("id", filter=Q(category=Category.EMERGENCY)),
    "mean_wait": Avg(F("actual_time") - F("created_at"), filter=Q(status=Token.Status.COMPLETED)),
}
# The columns of a report row, in the order the page and the CSV show them.
COLUMNS = [
    ("slots", _("Slots")),
    ("capacity", _("Capacity")),
    ("confirmed", _("Confirmed")),
    ("completed", _("Completed")),
    ("cancelled", _("Cancelled")),
    ("no_shows", _("No-shows")),
    ("emergencies", _("Emergencies")),
    ("waiting", _("Waiting list")),
    ("utilisation_pct", _("Utilisation %")),
    ("no_show_rate_pct", _("No-show rate %")),
    ("mean_delay_minutes", _("Mean delay (min)")),
    ("mean_wait_minutes", _("Mean wait (min)")),
]


def report_args(*, date: datetime.date | None = None, doctor_id=None) -> dict:
    """Turn the report's query (`date`, default today in the hospital's zone; optional `doctor_id`) into the
    arguments of `daily_report`. Raises NotFound (404) for an unknown doctor."""
    doctor = None
    if doctor_id is not None:
        doctor = Doctor.objects.filter(pk=doctor_id).first()
        if doctor is None:
            raise NotFound(f"No doctor with id {doctor_id}.")
    return {"day": date or timezone.localdate(), "doctor": doctor}


def daily_report(*, day: datetime.date, doctor: Doctor | None = None) -> dict:
    """The day's figures for the slots starting on `day` (hospital time zone), of one doctor or all.

    Returns a dict: `date` (ISO), `doctor_id` (or None), `doctors` (one row per doctor with slots that day, by name:
    `doctor_id`, `doctor_name`, `specialization` and every COLUMNS key), `total` (the COLUMNS keys over all of
    them), `tokens_per_hour` ([{"hour": 0-23, "count": n}], tokens by the local hour their slot starts) and
    `categories` ({category: tokens booked}). Rates are percentages (one decimal, None when undefined: no
    capacity, no tokens); means are minutes (None without data). Capacity counts live slots only; utilisation is
    places taken (confirmed + completed) over capacity, so emergency overflow can pass 100.
    """
    slots = selectors.slots_on(day)
    if doctor is not None:
        slots = slots.filter(doctor=doctor)
    tokens = Token.objects.filter(slot__in=slots)
    waiting = WaitingListEntry.objects.filter(slot__in=slots)

    rows = {
        row["doctor"]: row
        for row in slots.order_by().values("doctor", "doctor__name", "doctor__specialization").annotate(**SLOT_FIGURES)
    }
    for row in tokens.order_by().values("slot__doctor").annotate(**TOKEN_FIGURES):
        rows[row.pop("slot__doctor")].update(row)
    for row in waiting.order_by().values("slot__doctor").annotate(waiting=Count("id")):
        rows[row["slot__doctor"]]["waiting"] = row["waiting"]
    doctors = [
        {"doctor_id": key, "doctor_name": row["doctor__name"], "specialization": row["doctor__specialization"],
         **_figures(row)}
        for key, row in sorted(rows.items(), key=lambda item: item[1]["doctor__name"])
    ]  # fmt: skip
    total = _figures({**slots.aggregate(**SLOT_FIGURES), **tokens.aggregate(**TOKEN_FIGURES), "waiting": waiting.count()})
    hours = (
        tokens.order_by()
        .annotate(hour=ExtractHour("slot__start_time", tzinfo=timezone.get_current_timezone()))
        .values("hour")
        .annotate(count=Count("id"))
        .order_by("hour")
    )
    categories = dict(tokens.order_by().values_list("category").annotate(count=Count("id")))
    return {
        "date": day.isoformat(),
        "doctor_id": doctor.pk if doctor else None,
        "doctors": doctors,
        "total": total,
        "tokens_per_hour": list(hours),
        "categories": {category: categories.get(category, 0) for category in Category.values},
    }


def _figures(row: dict) -> dict:
    """The COLUMNS of one row from its raw aggregates (missing counts are 0)."""
    counts = {key: row.get(key) or 0 for key in ("slots", "capacity", "waiting", *TOKEN_FIGURES) if key != "mean_wait"}
    taken = counts["confirmed"] + counts["completed"]
    held = taken + counts["no_shows"]
    wait = row.get("mean_wait")
    delay = row.get("mean_delay")
    return {
        **counts,
        "utilisation_pct": _percent(taken, counts["capacity"]),
        "no_show_rate_pct": _percent(counts["no_shows"], held),
        "mean_delay_minutes": round(float(delay), 1) if delay is not None else None,
        "mean_wait_minutes": round(wait.total_seconds() / 60, 1) if wait is not None else None,
    }


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def report_csv(report: dict) -> str:
    """The report's rows (each doctor, then the total) as CSV text with a header line."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Date", "Doctor", "Specialization", *(label for _, label in COLUMNS)])
    for row in [*report["doctors"], {"doctor_name": "Total", "specialization": "", **report["total"]}]:
        cells = [report["date"], row["doctor_name"], row["specialization"], *(row[k] for k, _ in COLUMNS)]
        writer.writerow(safe_row(cells))  # a doctor's name is typed by people: no formula reaches a spreadsheet
    return out.getvalue()
