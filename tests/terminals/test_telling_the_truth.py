"""What the terminal's client and the ops view say is what happened: REPRINT on a plain sync (see
test_offline_guarantees), an honest lease answer after a lost one, "nothing lost" only when nothing was sent, a
non-zero exit when a person must act, leases kept to their terminal code, per-machine figures from the server's
state, and a client that runs from any directory."""

import shutil
import subprocess
import sys

import pytest

from terminals import queries, services
from terminals.client import ServerUnreachable, TerminalClient
from terminals.models import LabTerminal, RefusedRegistration, TerminalLease
from tests.terminals.conftest import ROOT, DropReplies, Terminal, printed


@pytest.mark.django_db(transaction=True)
def test_a_lease_after_a_lost_one_says_which_request_was_granted(proxy, key, tmp_path):
    DropReplies.dropping = "/leases/"
    lost = TerminalClient(proxy, key=key, terminal="LAB1-PC", path=str(tmp_path / "outbox.sqlite3"),
                          device_dir=str(tmp_path / "device"), retries=1)
    with pytest.raises(ServerUnreachable) as unreachable:
        lost.lease(100)
    assert unreachable.value.maybe_received  # the server leased the block; the answer was cut
    DropReplies.dropping = ""
    terminal = Terminal(proxy, key, tmp_path / "outbox.sqlite3", tmp_path / "device")
    out = terminal.ok("lease", "50")
    assert "An earlier lease request for 100 had lost its answer" in out
    assert "this request for 50 was not sent" in out
    assert "Leased 710000-710099: 100 of 100 granted" in out
    assert list(TerminalLease.objects.values_list("start", "end")) == [(710000, 710099)]


@pytest.mark.django_db(transaction=True)
def test_nothing_lost_is_said_only_when_nothing_was_sent(proxy, key, tmp_path):
    terminal = Terminal(proxy, key, tmp_path / "outbox.sqlite3", tmp_path / "device")
    terminal.ok("lease", "10")
    [terminal.register(f"P{i}") for i in range(3)]
    DropReplies.dropping = "/sync/"
    status, _out, err = terminal.run("sync")
    assert status == 3
    assert "What was sent may be stored already" in err and "nothing lost" not in err.lower()
    assert queries.ops_view(code="LAB1-PC")[0]["registered"] == 3  # it was stored
    DropReplies.dropping = ""
    assert "created 0, already synced 3" in terminal.ok("sync")
    closed = Terminal("http://127.0.0.1:9", key, tmp_path / "outbox.sqlite3", tmp_path / "device")
    status, _out, err = closed.run("status")
    assert status == 0 and "server unreachable" in _out


@pytest.mark.django_db(transaction=True)
def test_sync_exits_4_while_registrations_need_attention(machine_a):
    machine_a.outbox.parent.mkdir()
    machine_a.ok("lease", "3")
    machine_a.register("Too Old", "--dob", "1850-01-01")
    assert "needs attention 1" in machine_a.ok("sync", status=4)
    assert RefusedRegistration.objects.get().errors == {"dob": ["Date of birth cannot be before 1900-01-01."]}
    machine_a.ok("fix", printed(710000), "dob=1950-01-01")
    assert "created 1" in machine_a.ok("sync")  # exit 0: nothing left to act on
    assert not RefusedRegistration.objects.exists()  # stored since: the server forgets the refusal


@pytest.mark.django_db(transaction=True)
def test_a_pc_switched_to_another_terminal_code_leaves_the_first_codes_records_alone(machine_a, seed_terminals):
    machine_a.outbox.parent.mkdir()
    machine_a.ok("lease", "5")
    [machine_a.register(f"P{i}") for i in range(3)]
    lab2_key = services.issue_terminal_key(terminal=LabTerminal.objects.get(code="LAB2-PC"))
    as_lab2 = Terminal(machine_a.url, lab2_key, machine_a.outbox, machine_a.device_dir, code="LAB2-PC")
    out = as_lab2.ok("sync")
    assert "created 0" in out and "needs attention 0" in out and "left to another terminal code 3" in out
    status, _out, err = as_lab2.run("register", "--name", "Wrong code")
    assert status == 1 and "of terminal LAB1-PC, not LAB2-PC" in err
    assert "created 3" in machine_a.ok("sync")


@pytest.mark.django_db(transaction=True)
def test_the_ops_view_counts_each_machine_from_the_servers_state(machine_a, machine_b):
    machine_a.outbox.parent.mkdir()
    machine_b.outbox.parent.mkdir()
    machine_a.ok("lease", "5")
    machine_b.ok("lease", "5")
    machine_a.register("Refused", "--dob", "1850-01-01")
    machine_a.register("Fine")
    machine_a.ok("sync", status=4)
    [machine_b.register(f"B{i}") for i in range(2)]
    machine_b.ok("status")  # a contact: reports what B printed, without syncing it
    row = queries.ops_view(code="LAB1-PC")[0]
    by_lease = {lease["start"]: lease for lease in row["leases"]}
    assert [(by_lease[s]["printed"], by_lease[s]["synced"], by_lease[s]["unsynced"]) for s in (710000, 710005)] == [
        (2, 1, 1), (2, 0, 2)]
    machines = {device["leases"]: device for device in row["devices"]}
    a, b = (next(d for d in row["devices"] if d["device_id"] == by_lease[s]["device_id"]) for s in (710000, 710005))
    assert (a["refused"], a["pending"], b["refused"], b["pending"]) == (1, 1, 0, 2)
    assert (row["refused"], row["pending"]) == (1, 3) and len(machines) == 1
    assert all(lease["last_contact_at"] is not None and not lease["stale"] for lease in row["leases"])


def test_the_client_runs_as_a_script_from_its_own_directory(tmp_path):
    usage = subprocess.run([sys.executable, "client.py", "--help"], cwd=ROOT / "terminals", capture_output=True,
                           text=True, timeout=60)
    assert usage.returncode == 0, usage.stderr
    assert "4 done, but a person must act" in usage.stdout
    shutil.copy(ROOT / "terminals" / "client.py", tmp_path / "client.py")
    status = subprocess.run([sys.executable, "client.py", "--server", "http://127.0.0.1:9", "--key", "x",
                             "--terminal", "LAB1-PC", "--outbox", str(tmp_path / "o.sqlite3"), "--device-dir",
                             str(tmp_path / "device"), "status"], cwd=ROOT / "terminals", capture_output=True,
                            text=True, timeout=60)
    assert status.returncode == 0 and "server unreachable" in status.stdout, status.stderr
