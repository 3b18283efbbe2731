"""Tokenline's lab-terminal client: register patients offline from a leased block, sync later.

Standard library only and no project import, so a lab PC without Django runs this one file (`python3 client.py` or
`python3 -m terminals.client`). Everything it must not lose lives in a local SQLite file (the outbox): the blocks it
leased and the registrations, each with the MRN printed on its samples and a `client_uuid` that makes sending it
again harmless. Its device identity lives elsewhere (see `device_identity`), so a copied outbox knows it is a copy.

    client = TerminalClient("https://tokenline.example", key="<the terminal's API key>", terminal="LAB1-PC",
                            path="/var/lib/lab/tokenline.sqlite3")
    client.lease(500)                                     # while online: reserve 500 numbers for this machine
    mrn = client.register(full_name="Jane Doe", sex="F")  # offline: "007-10-000", printed at once, never changes
    report = client.sync()                                # back online: send the outbox; safe to repeat

Numbers are printed and stored as the hospital's MRN scheme writes them: grouped `007-10-000` by
default, plain `710000` with `scheme="dated"` (command line: `--scheme`, or TOKENLINE_MRN_SCHEME as on the server).
The server stores each registration under exactly the MRN the terminal printed.

Guarantees (the manual, docs/guide/lab-terminals.md):
- a number is printed once: it comes from a lease bound to this machine's identity; an outbox opened on another
  machine refuses to number (`WrongMachine`) until that machine leases its own block;
- a restored backup does not reprint: each lease and sync reply carries the server's high-water mark per lease;
  a lease whose local counter is behind it stops (`StaleLease` names the numbers it would have reprinted);
- a refused registration is kept as "needs attention" with the server's field-level reason: `fix` corrects it,
  the next `sync` sends it again;
- a lease request whose reply was lost is sent again with the same request id, and returns the same block.

Not thread-safe: one client per thread. Command line: `python3 -m terminals.client --help`.
"""

import argparse
import hashlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS lease (
    start INTEGER PRIMARY KEY, "end" INTEGER NOT NULL, next INTEGER NOT NULL,
    device_id TEXT NOT NULL DEFAULT '',     -- the machine that leased it; only it numbers from it
    terminal TEXT NOT NULL DEFAULT '',      -- the terminal code it was leased for; numbered and synced as that only
    stale_until INTEGER                     -- set when the server holds numbers up to here at or above `next`
);
CREATE TABLE IF NOT EXISTS outbox (
    client_uuid TEXT PRIMARY KEY,
    mrn TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',   -- pending, synced, or attention (refused; see detail)
    detail TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS lease_request (request_id TEXT PRIMARY KEY, count INTEGER NOT NULL);
"""
# Columns added after the first release (device binding, the terminal's clock), added to outboxes written by
# earlier versions when opened.
LATER_COLUMNS = {
    "lease": {"device_id": "TEXT NOT NULL DEFAULT ''", "stale_until": "INTEGER",
              "terminal": "TEXT NOT NULL DEFAULT ''", "held": "INTEGER NOT NULL DEFAULT 0"},
    "outbox": {"registered_at": "TEXT NOT NULL DEFAULT ''", "device_id": "TEXT NOT NULL DEFAULT ''",
               "server_mrn": "TEXT NOT NULL DEFAULT ''", "terminal": "TEXT NOT NULL DEFAULT ''"},
}
# A lease or registration this client may use: this machine's, for this terminal code.
MINE = "device_id = ? AND terminal = ?"
ATTENTION = "attention"  # a refused registration, kept for fixing ("needs attention")
BATCH_MAX = 1000  # the server's limit per sync request


class ClientError(Exception):
    """Base of the errors this client raises."""


class LeaseExhausted(ClientError):
    """No leased number is left: lease again while online (or register online)."""


class WrongMachine(LeaseExhausted):
    """The outbox's leases belong to another machine (the file was copied): lease a new block on this one."""


class StaleLease(LeaseExhausted):
    """The server already holds numbers this outbox would print again (it was restored from a backup)."""


class ServerUnreachable(ClientError):
    """The server did not answer (or answered 5xx) after every retry. `maybe_received`: some attempt may have
    reached it (a timeout, a cut connection, a 5xx), so what it carried may be stored already; False when no
    attempt got through (refused, no route). Either way the outbox keeps everything and repeating is safe: every
    request carries its id."""

    def __init__(self, message: str, *, maybe_received: bool):
        super().__init__(message)
        self.maybe_received = maybe_received


WHAT_OPS_DO = ("ops give this patient a new MRN (admin, Offline incidents); the next sync prints it as REPRINT. "
               "Nothing to correct here.")


class HeldByIncident(ClientError):
    """The registration is held in an offline incident: ops renumber it, `fix` cannot."""


class Refused(ClientError):
    """The server refused a whole request (4xx), e.g. a revoked key (401) or another terminal's code (403)."""

    def __init__(self, status: int, body):
        super().__init__(f"HTTP {status}: {body}")
        self.status, self.body = status, body


@dataclass
class SyncReport:
    """What one `sync()` did: counts, the items the server refused, every MRN the server stored (by uuid), the
    registrations whose MRN changed when ops resolved an incident (reprint their slips), and the items left
    alone because another machine registered them."""

    created: int = 0
    already_synced: int = 0
    refused: list[dict] = field(default_factory=list)  # {"client_uuid", "mrn", "status", "errors"}
    stored: dict[str, str] = field(default_factory=dict)  # client_uuid -> the MRN the server holds
    reprint: list[dict] = field(default_factory=list)  # {"client_uuid", "printed", "mrn"}
    other_machine: int = 0
    other_terminal: int = 0  # registrations numbered for another terminal code than this client's
    stale: list[str] = field(default_factory=list)  # StaleLease messages of leases stopped by this sync
    slowest: float = 0.0  # seconds of the slowest sync request (it should stay well within the timeout)


def state_dir(directory: str | None = None) -> Path:
    """Where this machine's identity and printed-number journal live: `directory`, else `$TOKENLINE_DEVICE_DIR`,
    else `$XDG_CONFIG_HOME/tokenline`, else `~/.config/tokenline` (created)."""
    base = Path(directory or os.environ.get("TOKENLINE_DEVICE_DIR")
                or Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "tokenline")
    base.mkdir(parents=True, exist_ok=True)
    return base


def device_identity(directory: str | None = None) -> str:
    """This machine's device identity, as 32 hex digits: a random id kept in `state_dir(directory)` (created on
    first use), combined with /etc/machine-id when present and with the hardware's own id (`hardware_id`) when
    readable. It lives outside the outbox: a copied outbox file does not carry it, and a copied config directory on
    another machine gives another identity. A whole-disk clone copies the random id and machine-id; only the
    hardware id differs, so run the client where it can read it (see `hardware_id`)."""
    path = state_dir(directory) / "device-id"
    if not path.exists():
        try:
            with open(path, "x", encoding="ascii") as out:  # exclusive: two first runs keep one identity
                out.write(uuid.uuid4().hex + "\n")
            path.chmod(0o600)
        except FileExistsError:
            pass
    machine = ""
    for candidate in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        if os.path.exists(candidate):
            machine = Path(candidate).read_text(encoding="ascii", errors="replace").strip()
            break
    parts = [path.read_text(encoding="ascii").strip(), machine]
    hardware = hardware_id()[0]
    if hardware:  # without one, the identity stays what earlier versions computed
        parts.append(hardware)
    return hashlib.sha256(":".join(parts).encode()).hexdigest()[:32]


def hardware_id() -> tuple[str, str]:
    """The machine's hardware id, which a disk clone does not copy, and where it came from: (id, source); id ""
    with the reason when none is readable.

    Linux: the DMI product UUID (/sys/class/dmi/id/product_uuid, readable by root only). Windows: the SMBIOS UUID
    (`wmic csproduct get uuid`, else PowerShell's Win32_ComputerSystemProduct). The registry's MachineGuid is not
    used: it lives on the disk, so a clone copies it.
    """
    if sys.platform == "win32":
        for command in (["wmic", "csproduct", "get", "uuid"],
                        ["powershell", "-NoProfile", "-Command",
                         "(Get-CimInstance Win32_ComputerSystemProduct).UUID"]):
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
            except (OSError, subprocess.SubprocessError):
                continue
            found = [line.strip() for line in done.stdout.splitlines() if line.strip() and line.strip() != "UUID"]
            if found and set(found[0].upper()) - set("0F-"):  # all zeros or all F: no real id set
                return found[0], f"SMBIOS UUID ({command[0]})"
        return "", "no SMBIOS UUID readable (wmic and PowerShell failed): a cloned disk keeps this identity"
    try:
        value = Path("/sys/class/dmi/id/product_uuid").read_text(encoding="ascii").strip()
    except OSError:
        return "", ("DMI product UUID not readable (/sys/class/dmi/id/product_uuid needs root): a cloned disk keeps "
                    "this identity")
    return value, "DMI product UUID"


def _now() -> datetime:
    return datetime.now(timezone.utc).astimezone()


class TerminalClient:
    """A terminal's side of offline registration. See the module docstring for the flow.

    Args:
        base_url: the server, e.g. "https://tokenline.example" (the API is under /api/v1/).
        key: the terminal's API key (issued in the admin).
        terminal: the terminal's code, e.g. "LAB1-PC".
        path: the SQLite file holding leases and the outbox (":memory:" for a throw-away one).
        timeout: seconds per request; a sync sends batches small enough to answer well within it.
        retries: attempts per request when the server is unreachable or answers 5xx; `backoff` seconds before the
            second attempt, doubling after each.
        device_dir: where the device identity lives (see `device_identity`).
        clock: returns the terminal's time (aware datetime); registrations carry it as `registered_at`.
    """

    def __init__(self, base_url: str, *, key: str, terminal: str, path: str, timeout: float = 30,
                 retries: int = 4, backoff: float = 0.5, device_dir: str | None = None, clock=_now,
                 scheme: str = "grouped"):
        self.base_url = base_url.rstrip("/")
        self.scheme = scheme
        self.key, self.terminal, self.timeout, self.retries, self.backoff = key, terminal, timeout, retries, backoff
        self.device_id, self.clock = device_identity(device_dir), clock
        # The last number printed per lease, kept next to the identity (outside the outbox): an outbox restored from
        # a backup is caught by it before printing, even offline.
        self.journal = state_dir(device_dir) / f"printed-{terminal}.json"
        # The epoch the server issued this machine at its latest contact, kept with the identity: a cloned disk
        # presents an old one and its leases are put on hold (terminals.devices.check_epoch on the server).
        self.epoch_file = state_dir(device_dir) / f"epoch-{terminal}"
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.executescript(SCHEMA)
        for table, columns in LATER_COLUMNS.items():
            present = {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}
            for name, kind in columns.items():
                if name not in present:
                    self.db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
        # Leases and registrations of an outbox written before device binding belong to the first machine opening it.
        self.db.execute("UPDATE lease SET device_id = ? WHERE device_id = ''", (self.device_id,))
        self.db.execute("UPDATE outbox SET device_id = ? WHERE device_id = ''", (self.device_id,))
        # ...and to the terminal code of the first client opening it: later, only that code numbers and syncs them.
        self.db.execute("UPDATE lease SET terminal = ? WHERE terminal = ''", (terminal,))
        self.db.execute("UPDATE outbox SET terminal = ? WHERE terminal = ''", (terminal,))
        self.mine = (self.device_id, terminal)
        self.db.execute("UPDATE outbox SET status = ? WHERE status = 'error'", (ATTENTION,))  # the earlier name
        self.batch_size = 50  # adapted by sync() to the server's speed
        self.last_lease: dict = {}

    # --- leasing ----------------------------------------------------------------------------------------------

    def lease(self, count: int) -> tuple[int, int]:
        """Lease up to `count` numbers (1..10,000) for this machine while online; returns (start, end) received.

        The request id is saved before sending: if the reply is lost (even if this process dies), the next lease
        call sends the same request again and gets the same block back. The server's answer (`granted`,
        `requested`, `short`, `remaining`, `percent`, `level`) is kept in `last_lease`.
        """
        pending = self.db.execute("SELECT request_id, count FROM lease_request").fetchone()
        resent = pending is not None
        if pending is None:
            pending = (str(uuid.uuid4()), count)
            self.db.execute("INSERT INTO lease_request (request_id, count) VALUES (?, ?)", pending)
        block = self._call("POST", f"/api/v1/terminals/{self.terminal}/leases/",
                           {"count": pending[1], "request_id": pending[0]})
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute("INSERT OR IGNORE INTO lease (start, \"end\", next, device_id, terminal) "
                        "VALUES (?, ?, ?, ?, ?)", (block["start"], block["end"], block["start"], *self.mine))
        self.db.execute("DELETE FROM lease_request WHERE request_id = ?", (pending[0],))
        self.db.execute("COMMIT")
        # `asked`: this call's count; `resent`: an earlier request whose answer was lost was sent instead (its
        # count is the server's `requested`), so this call's own count was not asked for: lease again for it.
        self.last_lease = {**block, "asked": count, "resent": resent}
        self._apply_marks(block.get("leases", []))
        return block["start"], block["end"]

    def remaining(self) -> int:
        """Numbers left in this machine's usable leases."""
        return self.db.execute("SELECT coalesce(sum(\"end\" - next + 1), 0) FROM lease WHERE next <= \"end\" "
                               f"AND {MINE} AND stale_until IS NULL", self.mine).fetchone()[0]

    def leases(self) -> list[dict]:
        """The local leases: start, end, next, left, whether this machine owns them, and a stop reason if any."""
        rows = self.db.execute("SELECT start, \"end\", next, device_id, terminal, stale_until, held FROM lease "
                               "ORDER BY start")
        return [{"start": s, "end": e, "next": n, "left": max(e - n + 1, 0), "own": (d, t) == self.mine,
                 "terminal": t, "stopped": (self._hold_message(s, e) if held else
                                            self._stale_message(s, e, n, stale) if stale is not None else "")}
                for s, e, n, d, t, stale, held in rows]

    def _hold_message(self, start: int, end: int) -> str:
        return (f"Lease {start}-{end} is on hold: two machines printed the same number from it (a cloned PC?). "
                "Lease a new block; ops resolve the offline incidents.")

    def _stale_message(self, start: int, end: int, number: int, high_water: int) -> str:
        return (f"Lease {start}-{end} stopped: numbers up to {high_water} were already printed, and this outbox "
                f"would print {number}-{high_water} again (was it restored from a backup?). Lease a new block.")

    def _apply_marks(self, leases: list[dict]) -> list[str]:
        """Stop every local lease of this machine whose next number was already printed, by the server's
        high-water marks or this machine's journal (a restored backup). Returns the messages of those stopped now."""
        stopped = []
        for mark in leases:
            if mark.get("on_hold"):  # the server put it on hold: no machine prints from it any more
                row = self.db.execute(f"SELECT \"end\" FROM lease WHERE start = ? AND {MINE} AND held = 0",
                                      (mark["start"], *self.mine)).fetchone()
                if row:
                    self.db.execute("UPDATE lease SET held = 1, stale_until = coalesce(stale_until, \"end\") "
                                    "WHERE start = ?", (mark["start"],))
                    stopped.append(self._hold_message(mark["start"], row[0]))
                continue
            high = mark.get("high_water")
            if high is None:
                continue
            row = self.db.execute(f"SELECT \"end\", next FROM lease WHERE start = ? AND {MINE} "
                                  "AND stale_until IS NULL AND next <= ?", (mark["start"], *self.mine, high))
            found = row.fetchone()
            if found:
                self.db.execute("UPDATE lease SET stale_until = ? WHERE start = ?", (high, mark["start"]))
                stopped.append(self._stale_message(mark["start"], found[0], found[1], high))
        return stopped

    # --- registering ------------------------------------------------------------------------------------------

    def register(self, **demographics) -> str:
        """Register a patient locally (no network) and return its MRN, final from this moment: print it.

        Args: the demographics as the API takes them (`full_name`, `father_name`, `dob` "YYYY-MM-DD", `sex`, ...).
            The registration time (`registered_at`) is this terminal's clock now.
        Raises: WrongMachine when the leases with numbers left belong to another machine (a copied outbox);
            StaleLease when they were stopped after a restore; LeaseExhausted when no leased number is left.
        """
        printed = self._printed()
        self._apply_marks([{"start": start, "high_water": last} for start, last in printed.items()])
        self.db.execute("BEGIN IMMEDIATE")
        try:
            row = self.db.execute(f"SELECT start, next FROM lease WHERE next <= \"end\" AND {MINE} "
                                  "AND stale_until IS NULL ORDER BY start", self.mine).fetchone()
            if row is None:
                raise self._why_no_number()
            start, number = row
            self.db.execute("UPDATE lease SET next = next + 1 WHERE start = ?", (start,))
            mrn = self.written(number)
            self.db.execute("INSERT INTO outbox (client_uuid, mrn, payload, registered_at, device_id, terminal) "
                            "VALUES (?, ?, ?, ?, ?, ?)", (str(uuid.uuid4()), mrn, json.dumps(demographics),
                                                          self.clock().isoformat(), *self.mine))
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        self._write_printed({**printed, start: number})
        return mrn

    def written(self, number: int) -> str:
        """How the hospital writes MRN `number` (the server's patients.mrn.written_mrn): `007-10-000` in the grouped
        scheme, `710000` in the dated one."""
        if self.scheme != "grouped":
            return str(number)
        digits = f"{number:08d}"
        return f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"

    def _printed(self) -> dict[int, int]:
        """The journal: {lease start: the last number printed from it on this machine}."""
        try:
            return {int(start): last for start, last in json.loads(self.journal.read_text()).items()}
        except (FileNotFoundError, ValueError):
            return {}

    def _write_printed(self, printed: dict[int, int]) -> None:
        partial = self.journal.with_suffix(".tmp")
        partial.write_text(json.dumps({str(start): last for start, last in printed.items()}))
        os.replace(partial, self.journal)  # whole or not at all

    def _why_no_number(self) -> LeaseExhausted:
        leases = self.leases()
        with_room = [lease for lease in leases if lease["left"]]
        others = {lease["terminal"] for lease in with_room if lease["terminal"] != self.terminal}
        if others and not any(lease["own"] for lease in with_room):
            return LeaseExhausted(f"This outbox's leases with numbers left are of terminal {', '.join(sorted(others))},"
                                  f" not {self.terminal}; lease a block for {self.terminal}.")
        if any(not lease["own"] for lease in with_room) or (leases and not any(lease["own"] for lease in leases)):
            return WrongMachine(f"This outbox belongs to {self.terminal}'s machine; lease a new block.")
        stopped = [lease["stopped"] for lease in with_room if lease["stopped"]]
        if stopped:
            return StaleLease(" ".join(stopped))
        return LeaseExhausted(f"Terminal {self.terminal} has no leased number left; lease while online.")

    def outbox(self, status: str | None = None) -> list[dict]:
        """The local registrations (optionally only those with `status`), oldest first."""
        query = ("SELECT client_uuid, mrn, payload, status, detail, registered_at, device_id, terminal, server_mrn "
                 "FROM outbox")
        rows = self.db.execute(query + " WHERE status = ? ORDER BY rowid" if status else query + " ORDER BY rowid",
                               (status,) if status else ()).fetchall()
        return [{"client_uuid": u, "mrn": m, "payload": json.loads(p), "status": s, "detail": d,
                 "registered_at": r, "own": (dev, t) == self.mine, "machine": dev == self.device_id,
                 "terminal": t, "server_mrn": sm}
                for u, m, p, s, d, r, dev, t, sm in rows]

    def attention(self) -> list[dict]:
        """Refused registrations waiting for someone, each with `errors` (the server's reasons, by field) and
        `incident` (the offline incident holding it, or None): those ops renumber, the others `fix` corrects."""
        items = [{**item, "errors": json.loads(item["detail"] or "{}")} for item in self.outbox(ATTENTION)]
        return [{**item, "incident": item["errors"].get("incident")} for item in items]

    def fix(self, mrn: str, **changes) -> dict:
        """Correct a refused registration's demographics (never its MRN: it is printed) and queue it for the next
        sync. A change to "" removes the field. Returns the registration as it will be sent.
        Raises: KeyError when no registration needing attention has this MRN; HeldByIncident when it is held in an
            offline incident (ops give it a new MRN; the next sync shows it for reprint: nothing to correct here).
        """
        row = self.db.execute("SELECT client_uuid, payload, detail FROM outbox WHERE mrn = ? AND status = ?",
                              (mrn, ATTENTION)).fetchone()
        if row is None:
            raise KeyError(f"No registration needing attention has MRN {mrn}.")
        incident = json.loads(row[2] or "{}").get("incident")
        if incident is not None:
            raise HeldByIncident(f"{mrn} is held in offline incident #{incident}: {WHAT_OPS_DO}")
        payload = {**json.loads(row[1]), **changes}
        payload = {name: value for name, value in payload.items() if value != "" or name == "full_name"}
        self.db.execute("UPDATE outbox SET payload = ?, status = 'pending', detail = '' WHERE client_uuid = ?",
                        (json.dumps(payload), row[0]))
        return {"client_uuid": row[0], "mrn": mrn, "payload": payload}

    # --- syncing ----------------------------------------------------------------------------------------------

    def sync(self, *, batch_size: int | None = None, replay: bool = False) -> SyncReport:
        """Send this machine's pending registrations (all of them with `replay`) in batches.

        Batches start at `batch_size` (default 50, at most 1,000) and halve while one takes more than a quarter of
        the timeout, so every request answers well within it. Each item is marked synced or "needs attention"
        from the server's answer; a batch the server did not answer is retried as it was, which is safe because
        every item carries its client_uuid. Registrations another machine made (a copied outbox) are left to it.
        Raises: ServerUnreachable, Refused (the whole request, e.g. 401/403); items already answered stay marked.
        """
        size = min(batch_size or self.batch_size, BATCH_MAX)
        # Registrations held in offline incidents go too: once ops renumbered one, its answer is the new MRN (a
        # REPRINT notice); until then the same incident answers again (the server opens no second one).
        everything = self.outbox() if replay else [
            it for it in self.outbox() if it["status"] == "pending"
            or (it["status"] == ATTENTION and json.loads(it["detail"] or "{}").get("incident") is not None)]
        report = SyncReport(other_machine=sum(1 for it in everything if not it["machine"]),
                            other_terminal=sum(1 for it in everything if it["machine"] and not it["own"]))
        items = [it for it in everything if it["own"]]
        sent = 0
        while sent < len(items) or (sent == 0 and not items):
            batch = items[sent:sent + size]
            if not batch:  # nothing to send: the contact still learns the high-water marks and renumberings
                listing = self._call("GET", f"/api/v1/terminals/{self.terminal}/leases/")
                report.stale += self._apply_marks(listing["leases"])
                self._renumbered(listing.get("renumbered", []), report)
                break
            body = {"registrations": [{**it["payload"], "mrn": it["mrn"], "client_uuid": it["client_uuid"],
                                       **({"registered_at": it["registered_at"]} if it["registered_at"] else {})}
                                      for it in batch]}
            started = time.monotonic()
            answer = self._call("POST", f"/api/v1/terminals/{self.terminal}/sync/", body)
            report.slowest = max(report.slowest, time.monotonic() - started)
            if report.slowest > self.timeout / 4 and size > 10:
                size = self.batch_size = max(size // 2, 10)
            for item, result in zip(batch, answer["results"], strict=True):
                self._record(item, result, report)
            report.stale += self._apply_marks(answer.get("leases", []))
            self._renumbered(answer.get("renumbered", []), report)
            sent += len(batch)
        return report

    def _renumbered(self, renumbered: list[dict], report: SyncReport) -> None:
        """Registrations of this outbox synced earlier that the server has since given a new MRN (another record
        registered earlier kept the number, or ops resolved an incident): listed for reprint once."""
        for item in renumbered:
            row = self.db.execute("SELECT mrn, server_mrn FROM outbox WHERE client_uuid = ? AND status = 'synced'",
                                  (item["client_uuid"],)).fetchone()
            if row and row[1] != item["mrn"]:
                report.reprint.append({"client_uuid": item["client_uuid"], "printed": row[0], "mrn": item["mrn"]})
                self.db.execute("UPDATE outbox SET server_mrn = ? WHERE client_uuid = ?",
                                (item["mrn"], item["client_uuid"]))

    def _record(self, item: dict, result: dict, report: SyncReport) -> None:
        if result["result"] == "error":
            report.refused.append({"client_uuid": item["client_uuid"], "mrn": item["mrn"],
                                   "status": result["status"], "errors": result["errors"]})
            if result["status"] < 500:  # a server fault (5xx) stays pending and is sent again
                self.db.execute("UPDATE outbox SET status = ?, detail = ? WHERE client_uuid = ?",
                                (ATTENTION, json.dumps(result["errors"]), item["client_uuid"]))
            return
        if result["result"] == "created":
            report.created += 1
        else:
            report.already_synced += 1
        stored = result["patient"]["mrn"]
        report.stored[item["client_uuid"]] = stored
        if stored != item["mrn"]:  # ops gave this patient a new number (an offline incident): reprint the slip
            report.reprint.append({"client_uuid": item["client_uuid"], "printed": item["mrn"], "mrn": stored})
        self.db.execute("UPDATE outbox SET status = 'synced', detail = '', server_mrn = ? WHERE client_uuid = ?",
                        (stored, item["client_uuid"]))

    # --- status and recovery ----------------------------------------------------------------------------------

    def check(self) -> list[str]:
        """Contact the server (reporting the outbox) and stop any lease it already holds numbers of; returns the
        messages of the leases stopped now."""
        return self._apply_marks(self.server_leases())

    def server_leases(self) -> list[dict]:
        """The terminal's leases as the server knows them (all machines), with `high_water`, `used`, `unused`."""
        return self._call("GET", f"/api/v1/terminals/{self.terminal}/leases/")["leases"]

    def recover(self) -> list[dict]:
        """Rebuild the leases of this machine from the server after the outbox was lost (or start a new outbox
        from them). Each lease continues after the highest number the server holds, this machine last reported, or
        its journal (kept outside the outbox) says it printed, whichever is latest. Returns the leases restored
        (start, end, next).
        Leases of other machines are not taken over.
        """
        restored = []
        for mark in self.server_leases():
            if mark["device_id"] not in (self.device_id, ""):
                continue
            after = [mark["start"], self._printed().get(mark["start"], mark["start"] - 1) + 1]
            if mark["high_water"] is not None:
                after.append(mark["high_water"] + 1)
            if mark["reported_next"] is not None:
                after.append(mark["reported_next"])
            number = max(after)
            inserted = self.db.execute(
                "INSERT OR IGNORE INTO lease (start, \"end\", next, device_id) VALUES (?, ?, ?, ?)",
                (mark["start"], mark["end"], number, self.device_id)).rowcount
            if inserted:
                restored.append({"start": mark["start"], "end": mark["end"], "next": number})
        return restored

    def adopt(self) -> list[dict]:
        """Take over the leases of this outbox that ops handed to this machine (a dead PC's outbox, copied here):
        each lease and its registrations not yet synced become this machine's, and numbering continues after the
        highest number the outbox, the server's high-water mark or the dead machine's last report knew. Nothing is
        taken without the handover: the server decides which machine a lease belongs to.
        Returns [{"start", "end", "next", "records" (registrations to sync)}, ...] for the leases adopted now.
        """
        adopted = []
        for mark in self.server_leases():
            row = self.db.execute("SELECT \"end\", next, device_id FROM lease WHERE start = ? AND terminal = ?",
                                  (mark["start"], self.terminal)).fetchone()
            if mark["device_id"] != self.device_id or row is None or row[2] == self.device_id:
                continue
            end, number, old = row
            after = [number]
            if mark["high_water"] is not None:
                after.append(mark["high_water"] + 1)
            if mark["reported_next"] is not None:
                after.append(mark["reported_next"])
            number = max(after)
            theirs = [uuid_ for uuid_, mrn in self.db.execute(
                "SELECT client_uuid, mrn FROM outbox WHERE device_id = ? AND terminal = ? AND status != 'synced'",
                (old, self.terminal)) if mark["start"] <= _value(mrn) <= end]
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("UPDATE lease SET device_id = ?, next = ?, stale_until = NULL WHERE start = ?",
                            (self.device_id, number, mark["start"]))
            self.db.executemany("UPDATE outbox SET device_id = ? WHERE client_uuid = ?",
                                [(self.device_id, uuid_) for uuid_ in theirs])
            self.db.execute("COMMIT")
            self._write_printed({**self._printed(), mark["start"]: number - 1})
            adopted.append({"start": mark["start"], "end": end, "next": number, "records": len(theirs)})
        return adopted

    def counts(self) -> dict:
        """Registrations in the outbox by status: {"pending", "synced", "attention"}."""
        found = dict(self.db.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall())
        return {name: found.get(name, 0) for name in ("pending", "synced", ATTENTION)}

    # --- HTTP -------------------------------------------------------------------------------------------------

    def _headers(self) -> dict:
        """What the terminal reports on every contact (terminals/devices.py on the server)."""
        nexts = self.db.execute(f"SELECT start, next FROM lease WHERE {MINE} AND next <= \"end\" + 1 "
                                "ORDER BY start DESC LIMIT 50", self.mine).fetchall()
        return {"Content-Type": "application/json", "Authorization": f"Token {self.key}",
                "X-Tokenline-Device": self.device_id, "X-Tokenline-Clock": self.clock().isoformat(),
                "X-Tokenline-Epoch": self._epoch(),
                "X-Tokenline-Next": ",".join(f"{start}:{number}" for start, number in nexts)}

    def _epoch(self) -> str:
        try:
            return self.epoch_file.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return ""

    def _keep_epoch(self, epoch: str) -> None:
        """Keep `epoch` ("seq.token") if it is newer than the one kept (answers may arrive out of order)."""
        def seq(text: str) -> int:
            head = text.partition(".")[0]
            return int(head) if head.isdigit() else -1

        if epoch and seq(epoch) > seq(self._epoch()):
            partial = self.epoch_file.with_suffix(".tmp")
            partial.write_text(epoch, encoding="ascii")
            os.replace(partial, self.epoch_file)

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        """One request with retries on network errors and 5xx; returns the decoded answer of a 2xx."""
        delay, maybe_received = self.backoff, False
        for attempt in range(1, self.retries + 1):
            request = urllib.request.Request(self.base_url + path, method=method, headers=self._headers(),
                                             data=None if body is None else json.dumps(body).encode())
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    answer = json.loads(response.read())
                    self._keep_epoch(response.headers.get("X-Tokenline-Epoch", ""))
                    return answer
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    raise Refused(exc.code, _decoded(exc.read())) from None
                failure, maybe_received = exc, True
            except (urllib.error.URLError, OSError, ValueError) as exc:  # refused, reset, timed out, cut short
                failure = exc
                # Only a refused connection or an unknown host prove the request never arrived.
                reason = getattr(exc, "reason", exc)
                maybe_received = maybe_received or not isinstance(reason, ConnectionRefusedError | socket.gaierror)
            if attempt < self.retries:
                time.sleep(delay)
                delay *= 2
        raise ServerUnreachable(f"{path}: {failure}", maybe_received=maybe_received)


def _value(mrn: str) -> int:
    """The number of a printed MRN (`007-10-000` or `710000`); -1 when it is not one."""
    digits = mrn.replace("-", "")
    return int(digits) if digits.isdigit() else -1


def _decoded(raw: bytes):
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


# --- the command line ---------------------------------------------------------------------------------------------

USAGE = """A lab terminal's day (settings from the options or TOKENLINE_URL, TOKENLINE_KEY, TOKENLINE_TERMINAL,
TOKENLINE_OUTBOX, TOKENLINE_DEVICE_DIR):

  lease 500                       online, morning: reserve numbers for this machine; shows granted and level
  register --name "Jane Doe" ...  offline: prints the MRN to write on the samples (no network needed)
  sync                            online again: send the outbox; refused items become "needs attention"
  fix                             list what needs attention, with the server's reason per field
  fix 710004 dob=1990-01-01       correct one (the MRN never changes); the next sync sends it again
  status                          leases, numbers left, outbox counts; learns the server's high-water marks
  recover                         after losing the outbox: rebuild this machine's leases from the server
  adopt                           on a dead PC's replacement, once ops handed its leases to this machine: take
                                  over its outbox (then sync)
Exit status: 0 done; 1 refused, or nothing to number from; 2 usage; 3 server unreachable (the outbox keeps
everything; repeat the command); 4 done, but a person must act: registrations need attention (run fix), slips
to reprint (REPRINT lines) or a lease stopped (STOPPED lines).
"""
EXIT_ACT = 4  # done, but a person must act (see USAGE)


def main(argv: list[str] | None = None) -> int:
    """Run one command of the terminal's day (see USAGE); returns the exit status."""
    parser = argparse.ArgumentParser(prog="python3 -m terminals.client", description=USAGE,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default=os.environ.get("TOKENLINE_URL"), help="e.g. https://tokenline.local")
    parser.add_argument("--key", default=os.environ.get("TOKENLINE_KEY"), help="the terminal's API key")
    parser.add_argument("--terminal", default=os.environ.get("TOKENLINE_TERMINAL"), help="e.g. LAB1-PC")
    parser.add_argument("--outbox", default=os.environ.get("TOKENLINE_OUTBOX", "tokenline-outbox.sqlite3"))
    parser.add_argument("--device-dir", default=os.environ.get("TOKENLINE_DEVICE_DIR"))
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--scheme", choices=["grouped", "dated"],
                        default=os.environ.get("TOKENLINE_MRN_SCHEME", "grouped"),
                        help="how the hospital writes MRNs: grouped 007-10-000 (default) or, dated, plain 710000")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("lease", help="lease numbers while online").add_argument("count", type=int)
    register = commands.add_parser("register", help="register a patient offline; prints the MRN")
    for name, flag in (("full_name", "--name"), ("father_name", "--father"), ("dob", "--dob"), ("sex", "--sex"),
                       ("phone", "--phone"), ("cnic", "--cnic"), ("email", "--email"), ("address", "--address")):
        register.add_argument(flag, dest=name, default="", required=name == "full_name")
    sync = commands.add_parser("sync", help="send the outbox")
    sync.add_argument("--replay", action="store_true", help="send every registration again (harmless)")
    fix = commands.add_parser("fix", help="list or correct registrations that need attention")
    fix.add_argument("mrn", nargs="?")
    fix.add_argument("changes", nargs="*", metavar="field=value")
    commands.add_parser("status", help="leases and outbox")
    commands.add_parser("recover", help="rebuild this machine's leases from the server")
    commands.add_parser("adopt", help="take over a dead PC's leases handed to this machine by ops")
    args = parser.parse_args(argv)
    if not (args.server and args.key and args.terminal):
        parser.error("--server, --key and --terminal (or TOKENLINE_URL, _KEY, _TERMINAL) are required")
    client = TerminalClient(args.server, key=args.key, terminal=args.terminal, path=args.outbox,
                            timeout=args.timeout, device_dir=args.device_dir, scheme=args.scheme)
    try:
        return COMMANDS[args.command](client, args)
    except ServerUnreachable as exc:
        if exc.maybe_received:
            print(f"The server did not answer ({exc}). What was sent may be stored already; this outbox keeps "
                  "everything and repeating the command is safe (it resends the same ids).", file=sys.stderr)
        else:
            print(f"Server unreachable, nothing was sent ({exc}); this outbox keeps everything.", file=sys.stderr)
        return 3
    except (LeaseExhausted, Refused, KeyError, HeldByIncident) as exc:
        print(exc.args[0] if isinstance(exc, KeyError) else exc, file=sys.stderr)
        return 1


def _lease(client: TerminalClient, args) -> int:
    start, end = client.lease(args.count)
    answer = client.last_lease
    if answer["resent"]:
        print(f"An earlier lease request for {answer['requested']} had lost its answer; it was sent again and is "
              f"what was granted (this request for {answer['asked']} was not sent: lease again if you need more).")
    print(f"Leased {start}-{end}: {answer['granted']} of {answer['requested']} granted"
          f"{' (the range ended; lease again for the rest)' if answer['short'] else ''}. "
          f"The terminal has {answer['remaining']:,} numbers left in its range ({answer['percent']} % used, "
          f"level {answer['level']}).")
    if answer["level"] != "ok":
        print(f"WARNING: the terminal's range is {answer['level']}; tell the administrator.", file=sys.stderr)
    return 0


def _register(client: TerminalClient, args) -> int:
    fields = ("full_name", "father_name", "dob", "sex", "phone", "cnic", "email", "address")
    print(client.register(**{name: getattr(args, name) for name in fields if getattr(args, name)}))
    return 0


def _sync(client: TerminalClient, args) -> int:
    report = client.sync(replay=args.replay)
    print(f"created {report.created}, already synced {report.already_synced}, needs attention "
          f"{len(report.refused)}, left to another machine {report.other_machine}"
          + (f", left to another terminal code {report.other_terminal}" if report.other_terminal else ""))
    for item in report.reprint:
        print(f"REPRINT: the slip printed as {item['printed']} now has MRN {item['mrn']}")
    for message in report.stale:
        print(f"STOPPED: {message}", file=sys.stderr)
    if report.refused:
        print('Run "fix" to see what needs attention.')
    return EXIT_ACT if report.refused or report.reprint or report.stale else 0


def _fix(client: TerminalClient, args) -> int:
    if args.mrn is None:
        for item in client.attention():
            then = (f"held in offline incident #{item['incident']}: {WHAT_OPS_DO}" if item["incident"] is not None
                    else f'fix it with "fix {item["mrn"]} field=value"; the next sync sends it again.')
            print(f"{item['mrn']} {item['payload'].get('full_name', '')}: {_reasons(item['errors'])} -> {then}")
        return 0
    changes = dict(change.partition("=")[::2] for change in args.changes)
    item = client.fix(args.mrn, **changes)
    print(f"{item['mrn']} will be sent again with the next sync: {json.dumps(item['payload'])}")
    return 0


def _reasons(errors: dict) -> str:
    """The server's refusal as "field: message" parts (`field` names the field of a non-field `detail`)."""
    parts = []
    for name, messages in errors.items():
        if name in ("field", "incident", "reason"):
            continue
        label = errors.get("field", "") if name == "detail" else name
        text = " ".join(messages) if isinstance(messages, list) else str(messages)
        parts.append(f"{label}: {text}" if label else text)
    if "reason" in errors:
        parts.append(errors["reason"])
    return "; ".join(parts)


def _status(client: TerminalClient, args) -> int:
    try:  # a contact: reports the outbox, learns the high-water marks (stopping a restored lease)
        client.check()
        online = "online"
    except ServerUnreachable:
        online = "server unreachable; shown as this terminal last knew it"
    print(f"{client.terminal} ({online}); this machine: {client.device_id}")
    print(f"hardware id: {hardware_id()[1]}")
    for lease in client.leases():
        owner = "" if lease["own"] else " (another machine's: not usable here)"
        print(f"lease {lease['start']}-{lease['end']}: next {lease['next']}, {lease['left']} left{owner}")
        if lease["stopped"]:
            print(f"  STOPPED: {lease['stopped']}")
    counts = client.counts()
    print(f"usable numbers {client.remaining()}; outbox: {counts['pending']} pending, {counts['synced']} synced, "
          f"{counts[ATTENTION]} need attention")
    return 0


def _recover(client: TerminalClient, args) -> int:
    restored = client.recover()
    for lease in restored:
        print(f"restored lease {lease['start']}-{lease['end']}, continuing at {lease['next']}")
    if not restored:
        print("No lease of this machine to restore; lease a new block.")
    return 0


def _adopt(client: TerminalClient, args) -> int:
    adopted = client.adopt()
    for lease in adopted:
        print(f"adopted lease {lease['start']}-{lease['end']}: {lease['records']} registration(s) to sync, "
              f"continuing at {lease['next']}")
    if not adopted:
        print(f"No lease of this outbox was handed to this machine ({client.device_id}); ask ops to hand it over "
              "(admin, Lease handovers) to this identity.", file=sys.stderr)
        return 1
    print('Now run "sync".')
    return 0


COMMANDS = {"lease": _lease, "register": _register, "sync": _sync, "fix": _fix, "status": _status,
            "recover": _recover, "adopt": _adopt}

if __name__ == "__main__":
    sys.exit(main())
