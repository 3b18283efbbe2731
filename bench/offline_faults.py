"""Lab PCs failing the way they do, each against a fresh terminal: a dead PC handed over to its replacement, a
cloned PC, an outbox restored from a backup, and the single offline endpoint from the bound machine and another.
Prints, per scenario: slips printed, renumbered (held in an incident for a new MRN, or stored under another MRN),
duplicate slips (one MRN on two patients' slips), lost (printed, neither stored nor held), incidents opened, and
numbering refused on the PC before printing.

    .venv/bin/python bench/offline_faults.py [--smoke]

`scenarios()` is also run by tests/terminals/test_offline_faults.py against the test server.
"""

import sys
from pathlib import Path

# The repository instead of bench/ (run as a script): bench/http.py would shadow the standard library's http.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import json  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402
import uuid  # noqa: E402
from collections import Counter  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from bench.common import arguments, bench_database, expect  # noqa: E402  (sets up Django)

from django.contrib.auth.models import User  # noqa: E402

from bench.offline_day import _free_start, serve  # noqa: E402
from patients.models import Patient  # noqa: E402
from terminals import services  # noqa: E402
from terminals.client import LeaseExhausted, TerminalClient  # noqa: E402
from terminals.models import LabTerminal, OfflineIncident  # noqa: E402


@dataclass
class Faults:
    """What one scenario printed and what became of it (counts of slips)."""

    scenario: str
    printed: int = 0
    renumbered: int = 0
    duplicates: int = 0
    lost: int = 0
    incidents: int = 0
    caught: int = 0  # numbering refused on the PC before it printed


class Lab:
    """One fresh terminal (range above everything in use, its own key) and its PCs, in `workdir`."""

    def __init__(self, base_url: str, code: str, workdir: str):
        self.base_url, self.workdir = base_url, Path(workdir) / code
        self.terminal = LabTerminal.objects.create(code=code, name=code)
        start = _free_start()
        services.add_range(terminal=self.terminal, start=start, end=start + 9_999)
        self.key = services.issue_terminal_key(terminal=self.terminal)
        self.pcs: list[TerminalClient] = []

    def pc(self, name: str, *, copy_of: str | None = None, outbox_of: str | None = None) -> TerminalClient:
        """PC `name`; with `copy_of`, its disk (outbox and device directory) is a copy of that PC's; with
        `outbox_of`, only that PC's outbox is (its identity is its own)."""
        if copy_of is not None:
            shutil.copytree(self.workdir / copy_of, self.workdir / name)
        (self.workdir / name).mkdir(parents=True, exist_ok=True)
        if outbox_of is not None:
            shutil.copy(self.workdir / outbox_of / "outbox.sqlite3", self.workdir / name / "outbox.sqlite3")
        client = TerminalClient(self.base_url, key=self.key, terminal=self.terminal.code, backoff=0.01,
                                path=str(self.workdir / name / "outbox.sqlite3"),
                                device_dir=str(self.workdir / name / "device"))
        self.pcs.append(client)
        return client

    def tally(self, scenario: str, caught: int = 0) -> Faults:
        """Every slip in every outbox of this lab, against what the server holds."""
        slips = {item["client_uuid"]: item["mrn"] for pc in self.pcs for item in pc.outbox()}
        stored = dict(Patient.objects.filter(origin_terminal=self.terminal).values_list("client_uuid", "mrn"))
        held = set(OfflineIncident.objects.filter(terminal=self.terminal, new_patient__isnull=True)
                   .values_list("refused_client_uuid", flat=True))
        result = Faults(scenario, printed=len(slips), caught=caught,
                        incidents=OfflineIncident.objects.filter(terminal=self.terminal).count())
        for key, mrn in slips.items():
            key = uuid.UUID(key)
            if key in held or (key in stored and stored[key] != mrn):
                result.renumbered += 1
            elif key not in stored:
                result.lost += 1
        result.duplicates = sum(n - 1 for n in Counter(slips.values()).values() if n > 1)
        return result


def dead_pc(base_url: str, workdir: str) -> Faults:
    """PC D prints 5 and dies; its disk goes into PC E; ops hand the lease over; E adopts, syncs, carries on."""
    lab = Lab(base_url, "FAULT-DEAD", workdir)
    dead = lab.pc("d")
    dead.lease(20)
    [dead.register(full_name=f"Dead PC patient {i}") for i in range(5)]
    dead.check()
    lab.pcs.remove(dead)  # gone: its outbox lives on in E
    new = lab.pc("e", outbox_of="d")
    new.check()
    ops = User.objects.get_or_create(username="bench-ops")[0]
    services.hand_over_lease(terminal_code=lab.terminal.code, start=new.leases()[0]["start"],
                             to_device=new.device_id, by=ops, reason="PC D died; its disk is in PC E")
    new.adopt()
    new.sync()
    new.register(full_name="After the handover")
    new.sync()
    return lab.tally("dead PC handed over")


def cloned_pc(base_url: str, workdir: str) -> Faults:
    """PC A's disk cloned to C (same identity); both print before either is in touch, then sync."""
    lab = Lab(base_url, "FAULT-CLONE", workdir)
    a = lab.pc("a")
    a.lease(10)
    [a.register(full_name=f"A{i}") for i in range(2)]
    clone = lab.pc("c", copy_of="a")
    a.register(full_name="A2")
    [clone.register(full_name=f"C{i}") for i in range(2, 4)]
    clone.sync()
    a.sync()  # the first collision: the lease goes on hold
    caught = 0
    try:
        a.register(full_name="A3")
    except LeaseExhausted:
        caught += 1
    clone.register(full_name="C4")  # printed before the clone's next contact
    clone.sync()
    for pc in (a, clone):
        pc.lease(5)
        pc.register(full_name="After leasing afresh")
        pc.sync()
    return lab.tally("cloned PC", caught)


def restored_backup(base_url: str, workdir: str) -> Faults:
    """PC A's outbox restored from yesterday's backup: it stops before reprinting, leases afresh."""
    lab = Lab(base_url, "FAULT-BACKUP", workdir)
    a = lab.pc("a")
    a.lease(10)
    [a.register(full_name=f"P{i}") for i in range(3)]
    a.sync()
    backup = lab.workdir / "backup.sqlite3"
    shutil.copy(lab.workdir / "a" / "outbox.sqlite3", backup)
    [a.register(full_name=f"Q{i}") for i in range(3)]
    a.sync()
    printed_today = a.outbox()
    a.db.close()
    shutil.copy(backup, lab.workdir / "a" / "outbox.sqlite3")
    restored = lab.pc("a")
    lab.pcs = [restored]
    caught = 0
    try:
        restored.register(full_name="Would be a duplicate")
    except LeaseExhausted:
        caught += 1
    restored.lease(5)
    restored.register(full_name="After the restore")
    restored.sync()
    result = lab.tally("restored backup", caught)
    stored = set(Patient.objects.filter(origin_terminal=lab.terminal).values_list("mrn", flat=True))
    result.printed += sum(1 for item in printed_today if item["client_uuid"] not in {
        it["client_uuid"] for it in restored.outbox()})
    result.lost += sum(1 for item in printed_today if item["mrn"] not in stored)
    return result


def single_endpoint(base_url: str, workdir: str) -> tuple[Faults, list[int]]:
    """`POST /api/v1/patients/` offline with a leased MRN: from the bound machine, then from another one."""
    lab = Lab(base_url, "FAULT-SINGLE", workdir)
    a = lab.pc("a")
    a.lease(5)
    statuses = []
    for device, mrn in ((a.device_id, a.written(a.leases()[0]["start"])),
                        ("b" * 32, a.written(a.leases()[0]["start"] + 1))):
        body = {"offline": True, "origin_terminal_code": lab.terminal.code, "full_name": "Single endpoint",
                "mrn": mrn, "client_uuid": str(uuid.uuid4())}
        request = urllib.request.Request(base_url + "/api/v1/patients/", data=json.dumps(body).encode(),
                                         method="POST", headers={"Content-Type": "application/json",
                                                                 "Authorization": f"Token {lab.key}",
                                                                 "X-Tokenline-Device": device})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                statuses.append(response.status)
        except urllib.error.HTTPError as exc:
            statuses.append(exc.code)
    result = Faults("single endpoint, bound + other PC", printed=2,
                    incidents=OfflineIncident.objects.filter(terminal=lab.terminal).count())
    result.renumbered = result.incidents
    result.lost = 2 - result.renumbered - Patient.objects.filter(origin_terminal=lab.terminal).count()
    return result, statuses


def scenarios(base_url: str, workdir: str) -> tuple[list[Faults], list[int]]:
    """Run every scenario; returns their Faults and the single endpoint's two HTTP statuses."""
    single, statuses = single_endpoint(base_url, workdir)
    return [dead_pc(base_url, workdir), cloned_pc(base_url, workdir), restored_backup(base_url, workdir),
            single], statuses


def table(results: list[Faults]) -> str:
    """The scenarios as a Markdown table."""
    lines = ["| scenario | printed | renumbered | duplicate slips | lost | incidents | caught before printing |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r.scenario} | {r.printed} | {r.renumbered} | {r.duplicates} | {r.lost} | {r.incidents} | "
              f"{r.caught} |" for r in results]
    return "\n".join(lines)


def main() -> None:
    from django.conf import settings

    arguments(__doc__, smoke="the same scenarios, which take seconds: accepted as every bench accepts it")
    settings.DEBUG = False
    with bench_database(), tempfile.TemporaryDirectory() as workdir:
        results, statuses = scenarios(serve(), workdir)
    print(table(results))
    print(f"single endpoint: bound PC {statuses[0]}, other PC {statuses[1]}")
    expect("the single offline endpoint from the bound PC", statuses[0], (201,))
    expect("the single offline endpoint from another PC", statuses[1], (409,))
    expect("the scenarios (slips lost in each)", [r.lost for r in results], ([0] * len(results),))


if __name__ == "__main__":
    main()
