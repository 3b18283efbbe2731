"""What the database server says about replication, and the rule that numbers are issued only where a failover
cannot take them back.

With asynchronous replication a failover loses the transactions the standby had not received: their numbers were
printed and acknowledged, and the promoted standby issues them again to other patients (161 MRNs in one test).
With a synchronous standby (`synchronous_standby_names` set and the standby attached with `sync_state` sync or
quorum) a commit returns only once the standby has it, so none is lost. Operators must know which they run:
`/health/`, `/metrics` and `manage.py check --deploy` report it from `replication_state()`.

`TOKENLINE_REQUIRE_SYNC_STANDBY` makes numbering refuse (503) while no synchronous standby is attached, for hospitals
that prefer a pause to a possible reissue; the state is read at most every `TOKENLINE_REPLICATION_CHECK_SECONDS`
(5) per process, never a query per number. A server in recovery (a standby, read-only) never issues numbers,
whatever the setting: it reports `in_hot_standby` to every connection (PostgreSQL 14+), so checking costs nothing.

Reading `sync_state` of pg_stat_replication needs the `pg_monitor` (or `pg_read_all_stats`) role for a role that is
not a superuser: `GRANT pg_monitor TO tokenline;`. Without it every standby looks asynchronous.
"""

import dataclasses
import logging
import threading
import time

import psycopg
from django.conf import settings
from django.db import connection

from core.busy import Busy

_STATE_SQL = """
    SELECT pg_is_in_recovery(), current_setting('synchronous_standby_names'), current_setting('synchronous_commit'),
           (SELECT count(*) FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum')),
           (SELECT count(*) FROM pg_stat_replication)
"""


@dataclasses.dataclass(frozen=True)
class ReplicationState:
    """One reading of the server: `in_recovery` (a standby), `synchronous_standby_names` and `synchronous_commit` as
    set, `sync_standbys` attached as sync or quorum, `standbys` attached at all."""

    in_recovery: bool
    synchronous_standby_names: str
    synchronous_commit: str
    sync_standbys: int
    standbys: int

    @property
    def synchronous(self) -> bool:
        """Whether a commit waits for a standby now: one is attached as sync/quorum and commits wait (on,
        remote_write, remote_apply)."""
        return self.sync_standbys > 0 and self.synchronous_commit in ("on", "remote_write", "remote_apply")

    def describe(self) -> str:
        """One sentence for an operator."""
        if self.in_recovery:
            return "This server is a standby (in recovery): it issues no numbers."
        if self.synchronous:
            return (f"Synchronous: {self.sync_standbys} standby(s) confirm every commit "
                    f"(synchronous_commit={self.synchronous_commit}).")
        return (f"Asynchronous: {self.standbys} standby(s) attached, none synchronous; a failover can lose "
                "acknowledged numbers and issue them again.")


def replication_state() -> ReplicationState:
    """Read the state now, on the default connection (one query). Raises DatabaseError when the database does not
    answer."""
    with connection.cursor() as cursor:
        cursor.execute(_STATE_SQL)
        in_recovery, names, commit, sync, standbys = cursor.fetchone()
    return ReplicationState(in_recovery, names, commit, int(sync), int(standbys))


class NotSafeToIssue(Busy):
    """503: this server must not issue numbers now (a standby, or no synchronous standby while one is required).
    Nothing was taken; retry later (with the same Idempotency-Key)."""

    @property
    def retry_after(self) -> int:
        return max(1, round(settings.TOKENLINE_REPLICATION_CHECK_SECONDS))


_lock = threading.Lock()
_checked: tuple[float, ReplicationState] | None = None  # (monotonic time read, state) of this process


def check_may_issue() -> None:
    """Raise NotSafeToIssue when the connected server must not issue numbers: it is in hot standby (free: reported
    by the server on the connection), or `TOKENLINE_REQUIRE_SYNC_STANDBY` is on and no synchronous standby is
    attached (read at most every `TOKENLINE_REPLICATION_CHECK_SECONDS` per process). Called before every counter
    lock (core.busy.bounded_lock_wait)."""
    global _checked
    connection.ensure_connection()
    if connection.connection.info.parameter_status("in_hot_standby") == "on":
        raise NotSafeToIssue(
            "Numbering is paused: the database server is a read-only standby. Nothing was taken; try again once "
            "the application reaches the primary."
        )
    if not settings.TOKENLINE_REQUIRE_SYNC_STANDBY:
        return
    now = time.monotonic()
    checked = _checked
    if checked is None or now - checked[0] > settings.TOKENLINE_REPLICATION_CHECK_SECONDS:
        checked = (now, replication_state())
        with _lock:
            _checked = checked
    if not checked[1].synchronous:
        raise NotSafeToIssue(
            "Numbering is paused: the database has no synchronous standby attached, and this hospital requires one "
            "(TOKENLINE_REQUIRE_SYNC_STANDBY) so that a failover can never issue a printed number again. Nothing "
            "was taken; try again once the standby is back."
        )


def forget() -> None:
    """Drop this process's cached reading (tests, or after changing the setting)."""
    global _checked
    _checked = None


logger = logging.getLogger("tokenline.replication")
_highest_timeline = 0  # the highest timeline of a primary this process connected to


def fence(raw: psycopg.Connection) -> None:
    """Refuse the new connection `raw` (a psycopg connection) when its server is a primary on an older timeline than
    one this process already connected to: an old primary started again as a primary after its standby was promoted
    (each promotion starts a new timeline), which would issue the numbers the new primary issues too. One query per
    physical connection (pooled connections are made once), never per request. A standby passes (it may be read;
    numbering refuses it in check_may_issue).

    Raises:
        psycopg.OperationalError: the server is behind; the pool discards the connection and tries again, requests
            meanwhile answer 503.
    """
    global _highest_timeline
    with raw.cursor() as cursor:
        cursor.execute("SELECT CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_walfile_name(pg_current_wal_lsn()) END")
        (walfile,) = cursor.fetchone()
    if walfile is None:
        return
    timeline = int(walfile[:8], 16)  # a WAL file's name starts with its timeline, 8 hex digits
    with _lock:
        if timeline < _highest_timeline:
            logger.error("Refused a connection to %s: timeline %s, behind timeline %s seen before (an old primary?)",
                         raw.info.host, timeline, _highest_timeline)
            raise psycopg.OperationalError(
                f"the database server is on timeline {timeline}, behind timeline {_highest_timeline} this process "
                "already used: an old primary that must not issue numbers (rewind it into a standby)"
            )
        _highest_timeline = timeline
