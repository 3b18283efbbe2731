"""The manager's day: a page and its CSV, for roles with `today.view_day` (ops, admin)."""

import csv
import io

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from core.pages import role_required
from core.spreadsheet import safe_row
from today import selectors


@never_cache
@role_required("today.view_day")
def day(request):
    """Today per queue, doctor and desk against the target, with a banner when a wait passes the alert threshold.
    The page reloads itself every minute."""
    return render(request, "today/day.html", selectors.day_figures())


@never_cache
@role_required("today.view_day")
def day_csv(request):
    """The page's figures as CSV: one row per queue, doctor and desk (selectors.COLUMNS)."""
    figures = selectors.day_figures()
    out = io.StringIO()
    writer = csv.writer(out)
    for row in selectors.as_csv_rows(figures):
        writer.writerow(safe_row(row))
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="today-{figures["day"].isoformat()}.csv"'
    return response
