"""Figures read from the database when Prometheus scrapes: the same from whichever worker answers, so they need no
per-process state. Each comes from the selector of the app that owns the rule (idseq, queues, terminals,
notifications, today)."""

import logging

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from core.replication import replication_state
from idseq import selectors as idseq_selectors
from notifications import selectors as notification_selectors
from queues import selectors as queue_selectors
from terminals import queries as terminal_queries
from today import selectors as today_selectors

logger = logging.getLogger("tokenline.monitoring")


class DatabaseCollector:
    """A prometheus_client collector (`collect()` yields metric families) for the numbering, queue and terminal
    figures. When the database does not answer it yields only `tokenline_database_figures_up 0` (and logs why)."""

    def collect(self):
        try:
            families = [*self._sequences(), *self._queues(), *self._terminals(), *self._notifications(),
                        *self._replication()]
        except DatabaseError:
            logger.warning("/metrics could not read the database", exc_info=True)
            families = []
        yield GaugeMetricFamily(
            "tokenline_database_figures_up", "1 when the figures read from the database below are present.",
            value=1 if families else 0,
        )
        yield from families

    def _sequences(self):
        issued = CounterMetricFamily(
            "tokenline_numbers_issued",  # exposed as ..._total
            "Numbers issued per sequence over all its periods (values passed over by a forward reset excluded).",
            labels=["sequence"],
        )
        for key, count in idseq_selectors.issued_totals().items():
            issued.add_metric([key], count)
        used = GaugeMetricFamily(
            "tokenline_sequence_percent_used",
            "Share of the format's ids used in the current period, 0-100 (warning from 80, critical from 90).",
            labels=["sequence"],
        )
        for row in idseq_selectors.sequence_usage():
            used.add_metric([row.key], row.percent_used)
        return [issued, used]

    def _queues(self):
        now = timezone.now()
        waiting = GaugeMetricFamily("tokenline_queue_waiting", "Visits waiting in each queue today.", labels=["queue"])
        oldest = GaugeMetricFamily(
            "tokenline_queue_oldest_waiting_minutes",
            "Minutes the longest-waiting visit of each queue has been in line today (0 when nobody waits).",
            labels=["queue"],
        )
        alert = GaugeMetricFamily(
            "tokenline_queue_wait_alert",
            "1 when the longest-waiting visit of each queue has waited longer than DAY_WAIT_ALERT_MINUTES.",
            labels=["queue"],
        )
        threshold = settings.DAY_WAIT_ALERT_MINUTES
        for code, count, since in queue_selectors.line_lengths(visit_date=timezone.localdate(now)):
            minutes = round((now - since).total_seconds() / 60, 1) if since else 0
            waiting.add_metric([code], count)
            oldest.add_metric([code], minutes)
            alert.add_metric([code], int(minutes > threshold))
        opd_oldest = GaugeMetricFamily(
            "tokenline_opd_oldest_waiting_minutes",
            "Minutes the longest-waiting OPD token of each doctor has waited since its slot began (0 when none).",
            labels=["doctor"],
        )
        opd_alert = GaugeMetricFamily(
            "tokenline_opd_wait_alert", "1 when that wait is longer than DAY_WAIT_ALERT_MINUTES.", labels=["doctor"]
        )
        for row in today_selectors.doctor_rows(timezone.localdate(now), now):
            opd_oldest.add_metric([row.name], row.oldest_waiting_minutes or 0)
            opd_alert.add_metric([row.name], int(row.alert))
        limit = GaugeMetricFamily(
            "tokenline_wait_alert_threshold_minutes", "DAY_WAIT_ALERT_MINUTES: the wait that raises the alerts.",
            value=threshold,
        )
        return [waiting, oldest, alert, opd_oldest, opd_alert, limit]

    def _terminals(self):
        labels = ["terminal"]
        percent = GaugeMetricFamily(
            "tokenline_terminal_range_percent_used",
            "Share of each terminal's active ranges handed out (registered or leased), 0-100.",
            labels=labels,
        )
        used = GaugeMetricFamily(
            "tokenline_terminal_range_used_numbers", "Numbers of the active ranges handed out.", labels=labels
        )
        total = GaugeMetricFamily("tokenline_terminal_range_numbers", "Numbers in the active ranges.", labels=labels)
        for row in terminal_queries.utilisation()["terminals"]:
            percent.add_metric([row["code"]], row["percent"])
            used.add_metric([row["code"]], row["used"])
            total.add_metric([row["code"]], row["total"])
        unsynced = GaugeMetricFamily(
            "tokenline_terminal_unsynced_numbers",
            "Numbers leased to each terminal that no synced registration carries yet (in its outbox, or unused).",
            labels=labels,
        )
        for code, count in terminal_queries.unsynced_leased().items():
            unsynced.add_metric([code], count)
        incidents = GaugeMetricFamily(
            "tokenline_offline_incidents_open",
            "Offline records refused because another record holds their MRN, not yet resolved.",
            value=terminal_queries.open_incident_count(),
        )
        skewed = GaugeMetricFamily(
            "tokenline_terminals_clock_skewed",
            "Active terminals whose clock was off by more than 10 minutes at their latest contact.",
            value=terminal_queries.skewed_terminal_count(),
        )
        stale = GaugeMetricFamily(
            "tokenline_terminal_leases_stale",
            "Leases with numbers reported printed but not synced, unreported for TOKENLINE_OFFLINE_STALE_HOURS "
            "(a dead PC's slips: hand the lease over).",
            value=terminal_queries.stale_lease_count(),
        )
        return [percent, used, total, unsynced, incidents, skewed, stale]

    def _replication(self):
        state = replication_state()
        return [
            GaugeMetricFamily("tokenline_database_sync_standbys",
                              "Standbys attached to the database as synchronous (sync or quorum); 0: a failover can "
                              "lose acknowledged numbers.", value=state.sync_standbys if state.synchronous else 0),
            GaugeMetricFamily("tokenline_database_standbys", "Standbys attached to the database (pg_stat_replication).",
                              value=state.standbys),
            GaugeMetricFamily("tokenline_database_in_recovery", "1 when the database server is a standby.",
                              value=int(state.in_recovery)),
        ]

    def _notifications(self):
        states = GaugeMetricFamily(
            "tokenline_notifications", "Notifications of the outbox in each delivery state.", labels=["state"]
        )
        for state, count in notification_selectors.counts_by_state().items():
            states.add_metric([state], count)
        return [states]
