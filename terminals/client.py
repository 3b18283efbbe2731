"""Reference client for a lab terminal (issue #6): register patients offline from a leased block, sync later.

Standard library only, so a lab system can copy this one file. Everything it must not lose lives in a local
SQLite file: the blocks it leased and an outbox of registrations, each with the MRN printed on its samples and a
`client_uuid` that makes sending it again harmless.

    client = TerminalClient("https://tokenline.example", key="<the terminal's API key>", terminal="LAB1-PC",
                            path="/var/lib/lab/tokenline.sqlite3")
    client.lease(500)                                   # while online: reserve 500 numbers
    mrn = client.register(full_name="Jane Doe", sex="F")  # offline: "007-10-000", printed at once, never changes
    report = client.sync()                              # back online: send the outbox; safe to repeat

The server stores each registration under exactly the MRN the terminal printed (written as the hospital's MRN
scheme writes it: grouped `007-10-000` by default, plain `710000` with `scheme="dated"`, issue #12); a replay (a retried request, a
restored outbox) answers "already synced" with the same record. Not thread-safe: one client per thread.
"""

import json
import sqlite3
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field

SCHEMA = """
CREATE TABLE IF NOT EXISTS lease (start INTEGER PRIMARY KEY, "end" INTEGER NOT NULL, next INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    client_uuid TEXT PRIMARY KEY,
    mrn TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',   -- pending, synced, or error (refused; see detail)
    detail TEXT NOT NULL DEFAULT ''
);
"""


class LeaseExhausted(Exception):
    """No leased number is left: lease again while online (or register online)."""


class ServerUnreachable(Exception):
    """The server did not answer (or answered 5xx) after every retry; nothing is lost, sync again later."""


class Refused(Exception):
    """The server refused a whole request (4xx), e.g. a revoked key (401) or another terminal's code (403)."""

    def __init__(self, status: int, body):
        super().__init__(f"HTTP {status}: {body}")
        self.status, self.body = status, body


@dataclass
class SyncReport:
    """What one `sync()` did: counts, the items the server refused, and every MRN the server stored, by uuid."""

    created: int = 0
    already_synced: int = 0
    refused: list[dict] = field(default_factory=list)  # {"client_uuid", "mrn", "status", "errors"}
    stored: dict[str, str] = field(default_factory=dict)  # client_uuid -> the MRN the server holds


class TerminalClient:
    """A terminal's side of offline registration. See the module docstring for the flow.

    Args:
        base_url: the server, e.g. "https://tokenline.example" (the API is under /api/v1/).
        key: the terminal's API key (issued in the admin).
        terminal: the terminal's code, e.g. "LAB1-PC".
        path: the SQLite file holding leases and the outbox (":memory:" for a throw-away one).
        retries: attempts per request when the server is unreachable or answers 5xx; `backoff` seconds before the
            second attempt, doubling after each.
    """

    def __init__(self, base_url: str, *, key: str, terminal: str, path: str, timeout: float = 30,
                 retries: int = 4, backoff: float = 0.5, scheme: str = "grouped"):
        self.base_url = base_url.rstrip("/")
        self.scheme = scheme
        self.key, self.terminal, self.timeout, self.retries, self.backoff = key, terminal, timeout, retries, backoff
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.executescript(SCHEMA)

    def lease(self, count: int) -> tuple[int, int]:
        """Lease up to `count` numbers (1..10,000) while online; returns (start, end) of the block received."""
        block = self._post(f"/api/v1/terminals/{self.terminal}/leases/", {"count": count})
        self.db.execute("INSERT INTO lease (start, \"end\", next) VALUES (?, ?, ?)",
                        (block["start"], block["end"], block["start"]))
        return block["start"], block["end"]

    def remaining(self) -> int:
        """Numbers left in the leased blocks."""
        return self.db.execute("SELECT coalesce(sum(\"end\" - next + 1), 0) FROM lease").fetchone()[0]

    def register(self, **demographics) -> str:
        """Register a patient locally (no network) and return its MRN, final from this moment: print it.

        Args: the demographics as the API takes them (`full_name`, `father_name`, `dob` "YYYY-MM-DD", `sex`, ...).
        Raises: LeaseExhausted when no leased number is left.
        """
        self.db.execute("BEGIN IMMEDIATE")
        try:
            row = self.db.execute("SELECT start, next FROM lease WHERE next <= \"end\" ORDER BY start").fetchone()
            if row is None:
                raise LeaseExhausted(f"Terminal {self.terminal} has no leased number left; lease while online.")
            start, number = row
            self.db.execute("UPDATE lease SET next = next + 1 WHERE start = ?", (start,))
            mrn = self.written(number)
            self.db.execute("INSERT INTO outbox (client_uuid, mrn, payload) VALUES (?, ?, ?)",
                            (str(uuid.uuid4()), mrn, json.dumps(demographics)))
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        return mrn

    def written(self, number: int) -> str:
        """How the hospital writes MRN `number` (the server's patients.mrn.written_mrn): `007-10-000` in the grouped
        scheme, `710000` in the dated one."""
        if self.scheme != "grouped":
            return str(number)
        digits = f"{number:08d}"
        return f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"

    def outbox(self, status: str | None = None) -> list[dict]:
        """The local registrations (optionally only those with `status`), oldest first."""
        query = "SELECT client_uuid, mrn, payload, status, detail FROM outbox"
        rows = self.db.execute(query + " WHERE status = ? ORDER BY rowid" if status else query + " ORDER BY rowid",
                               (status,) if status else ()).fetchall()
        return [{"client_uuid": u, "mrn": m, "payload": json.loads(p), "status": s, "detail": d}
                for u, m, p, s, d in rows]

    def sync(self, *, batch_size: int = 1000, replay: bool = False) -> SyncReport:
        """Send pending registrations (all of them with `replay`) in batches of up to `batch_size` (max 1,000).

        Each item is marked synced or refused from the server's answer; a batch the server did not answer is
        retried as it was, which is safe because every item carries its client_uuid.
        Raises: ServerUnreachable, Refused (the whole request, e.g. 401/403); items already answered stay marked.
        """
        items = self.outbox() if replay else self.outbox("pending")
        report = SyncReport()
        for i in range(0, len(items), batch_size):
            batch = items[i:i + batch_size]
            body = {"registrations": [{**it["payload"], "mrn": it["mrn"], "client_uuid": it["client_uuid"]}
                                      for it in batch]}
            answer = self._post(f"/api/v1/terminals/{self.terminal}/sync/", body)
            for item, result in zip(batch, answer["results"], strict=True):
                self._record(item, result, report)
        return report

    def _record(self, item: dict, result: dict, report: SyncReport) -> None:
        if result["result"] == "error":
            report.refused.append({"client_uuid": item["client_uuid"], "mrn": item["mrn"],
                                   "status": result["status"], "errors": result["errors"]})
            if result["status"] < 500:  # a server fault (5xx) stays pending and is sent again
                self.db.execute("UPDATE outbox SET status = 'error', detail = ? WHERE client_uuid = ?",
                                (json.dumps(result["errors"]), item["client_uuid"]))
            return
        if result["result"] == "created":
            report.created += 1
        else:
            report.already_synced += 1
        report.stored[item["client_uuid"]] = result["patient"]["mrn"]
        self.db.execute("UPDATE outbox SET status = 'synced', detail = '' WHERE client_uuid = ?",
                        (item["client_uuid"],))

    def _post(self, path: str, body: dict) -> dict:
        """POST JSON with retries on network errors and 5xx; returns the decoded answer of a 2xx."""
        request = urllib.request.Request(
            self.base_url + path, data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Token {self.key}"},
        )
        delay = self.backoff
        for attempt in range(1, self.retries + 1):
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    raise Refused(exc.code, _decoded(exc.read())) from None
                failure = exc
            except (urllib.error.URLError, OSError) as exc:  # refused, reset, timed out: the network is down
                failure = exc
            if attempt < self.retries:
                time.sleep(delay)
                delay *= 2
        raise ServerUnreachable(f"{path}: {failure}")


def _decoded(raw: bytes):
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")
