"""The offline lifecycle's guarantees, with the terminal's client as a real process (`python -m terminals.client`)
against the live test server. Two "machines" are two device-identity directories."""

import os
import shutil
import subprocess
import sys
from datetime import date, timedelta

import pytest
from django.core.management import call_command

from patients.models import Patient
from terminals import queries
from terminals.models import LabTerminal, OfflineIncident, SkewedRegistration, TerminalLease
from tests.terminals.conftest import ROOT, DropReplies, Terminal, printed

def stored() -> list[str]:
    return sorted(Patient.objects.values_list("mrn", flat=True))


@pytest.mark.django_db(transaction=True)
def test_a_copied_outbox_refuses_to_number_on_the_second_machine(machine_a, machine_b):
    (machine_a.outbox.parent).mkdir()
    (machine_b.outbox.parent).mkdir()
    assert machine_a.ok("lease", "5").startswith("Leased 710000-710004")
    assert [machine_a.register("A1"), machine_a.register("A2")] == [printed(710000), printed(710001)]
    shutil.copy(machine_a.outbox, machine_b.outbox)

    status, _out, err = machine_b.run("register", "--name", "B1")
    assert status == 1
    assert err.strip() == "This outbox belongs to LAB1-PC's machine; lease a new block."
    assert machine_b.ok("lease", "5").startswith("Leased 710005-710009")
    assert machine_b.register("B1") == printed(710005)
    # The copy leaves A's registrations to A, and never numbers from A's lease.
    assert "created 1, already synced 0, needs attention 0, left to another machine 2" in machine_b.ok("sync")
    assert "created 2," in machine_a.ok("sync")
    assert machine_a.register("A3") == printed(710002)
    assert stored() == [printed(710000), printed(710001), printed(710005)]
    assert dict(TerminalLease.objects.values_list("start", "device_id")).keys() == {710000, 710005}
    assert len(set(TerminalLease.objects.values_list("device_id", flat=True))) == 2


@pytest.mark.django_db(transaction=True)
def test_the_server_refuses_a_number_synced_from_another_machines_lease(lab1):
    lab1.post("/api/v1/terminals/LAB1-PC/leases/", {"count": 3}, format="json", HTTP_X_TOKENLINE_DEVICE="a" * 32)
    item = {"full_name": "Copied", "mrn": "710000", "client_uuid": "6f1c1d1e-0000-4000-8000-000000000001"}
    answer = lab1.post("/api/v1/terminals/LAB1-PC/sync/", {"registrations": [item]}, format="json",
                       HTTP_X_TOKENLINE_DEVICE="b" * 32).json()
    assert answer["results"][0]["status"] == 409
    assert answer["results"][0]["errors"]["field"] == "mrn"
    assert "this outbox was copied" in answer["results"][0]["errors"]["detail"]
    assert not Patient.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_restored_backup_stops_before_reprinting(machine_a, tmp_path):
    machine_a.outbox.parent.mkdir()
    machine_a.ok("lease", "10")
    [machine_a.register(f"P{i}") for i in range(3)]
    machine_a.ok("sync")
    backup = tmp_path / "backup.sqlite3"
    shutil.copy(machine_a.outbox, backup)
    assert [machine_a.register(f"Q{i}") for i in range(3)] == [printed(n) for n in range(710003, 710006)]
    machine_a.ok("sync")
    shutil.copy(backup, machine_a.outbox)  # the outbox is restored from yesterday's backup
    stopped = ("Lease 710000-710009 stopped: numbers up to 710005 were already printed, and this outbox would print "
               "710003-710005 again")

    # Offline, by the journal kept next to the device identity:
    status, _out, err = machine_a.run("register", "--name", "Would be a duplicate")
    assert status == 1 and stopped in err
    # With the journal lost too (the whole disk restored), by the server's high-water mark on the next contact:
    (machine_a.device_dir / "printed-LAB1-PC.json").unlink()
    shutil.copy(backup, machine_a.outbox)
    assert f"STOPPED: {stopped}" in machine_a.ok("status")
    status, _out, err = machine_a.run("register", "--name", "Would be a duplicate")
    assert status == 1 and stopped in err
    assert machine_a.ok("lease", "5").startswith("Leased 710010-710014")
    assert machine_a.register("After the restore") == printed(710010)
    machine_a.ok("sync")
    assert stored() == [printed(n) for n in range(710000, 710006)] + [printed(710010)]
    assert not OfflineIncident.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_forced_collision_opens_one_incident_seen_in_the_admin_and_metrics_and_ops_give_a_new_mrn(
        machine_a, tmp_path, admin):
    machine_a.outbox.parent.mkdir()
    machine_a.ok("lease", "10")
    backup = tmp_path / "backup.sqlite3"
    shutil.copy(machine_a.outbox, backup)
    assert machine_a.register("Kept Patient") == printed(710000)
    machine_a.ok("sync")
    # The whole disk restored (outbox and journal), and used before any contact: 710000 is printed twice.
    shutil.copy(backup, machine_a.outbox)
    (machine_a.device_dir / "printed-LAB1-PC.json").unlink()
    assert machine_a.register("Second Patient", "--phone", "0300-7654321") == printed(710000)

    out = machine_a.ok("sync", status=4)  # a person must act
    assert "needs attention 1" in out
    assert OfflineIncident.objects.count() == 1 and queries.open_incident_count() == 1
    assert "tokenline_offline_incidents_open 1.0" in admin.get("/metrics").content.decode()
    incident = OfflineIncident.objects.get()
    assert (incident.mrn, incident.kept.full_name) == (printed(710000), "Kept Patient")
    assert machine_a.ok("sync", "--replay", status=4).count("needs attention 1") == 1
    assert OfflineIncident.objects.count() == 1  # sent again: the same incident
    listing = machine_a.ok("fix")
    assert f"{printed(710000)} Second Patient: mrn: Registration number already exists" in listing
    assert f"held in offline incident #{incident.pk}: ops give this patient a new MRN" in listing
    status, _out, err = machine_a.run("fix", printed(710000), "phone=0300-1111111")
    assert status == 1 and "Nothing to correct here" in err
    assert "needs attention 1" in machine_a.ok("sync", status=4)  # still open: the same incident answers

    page = admin.get("/admin/terminals/offlineincident/").content.decode()
    assert printed(710000) in page and "Kept Patient" in page and ">open<" in page
    listed = admin.get("/admin/terminals/labterminal/").content.decode()
    assert "?terminal__id__exact=" in listed
    listing = call_command_output("offline_incidents")
    assert f"#{incident.pk}" in listing and "1 open offline incident(s)" in listing

    admin.post("/admin/terminals/offlineincident/", {"action": "give_new_mrn", "_selected_action": [incident.pk]})
    incident.refresh_from_db()
    assert incident.new_patient is not None and queries.open_incident_count() == 0
    new_mrn = incident.new_patient.mrn
    page = admin.get("/admin/terminals/offlineincident/?open=no").content.decode()
    assert f"new MRN {new_mrn}" in page and "reprint the slip" in page
    # The next plain sync learns the new number: nobody has to "fix" anything on the terminal.
    out = machine_a.ok("sync", status=4)
    assert f"REPRINT: the slip printed as {printed(710000)} now has MRN {new_mrn}" in out
    assert "needs attention 0" in out and machine_a.ok("fix") == ""
    assert OfflineIncident.objects.count() == 1


def call_command_output(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_a_refused_record_is_fixed_and_resent(machine_a):
    machine_a.outbox.parent.mkdir()
    machine_a.ok("lease", "3")
    future = (date.today() + timedelta(days=5)).isoformat()
    assert machine_a.register("Born Later", "--dob", future) == printed(710000)
    assert "needs attention 1" in machine_a.ok("sync", status=4)
    listing = machine_a.ok("fix")
    assert listing.startswith(f"{printed(710000)} Born Later: dob: Date of birth cannot be after the registration date")
    machine_a.ok("fix", printed(710000), "dob=1990-01-01")
    assert "created 1," in machine_a.ok("sync")
    patient = Patient.objects.get()
    assert (patient.mrn, patient.dob, patient.registered_at is not None) == (printed(710000), date(1990, 1, 1), True)
    assert machine_a.ok("fix") == ""


@pytest.mark.django_db(transaction=True)
def test_a_lost_lease_reply_returns_the_same_block(proxy, key, tmp_path):
    DropReplies.dropping, DropReplies.once = "/leases/", True  # the server leased the block; the reply is lost
    out = Terminal(proxy, key, tmp_path / "outbox.sqlite3", tmp_path / "device").ok("lease", "25")
    assert DropReplies.dropped.is_set()
    assert out.startswith("Leased 710000-710024: 25 of 25 granted")
    assert list(TerminalLease.objects.values_list("start", "end")) == [(710000, 710024)]  # none orphaned


@pytest.mark.django_db(transaction=True)
def test_a_resent_lease_request_returns_the_same_lease_and_the_reply_shows_levels(lab1):
    body = {"count": 10, "request_id": "6f1c1d1e-0000-4000-8000-000000000020"}
    first = lab1.post("/api/v1/terminals/LAB1-PC/leases/", body, format="json").json()
    again = lab1.post("/api/v1/terminals/LAB1-PC/leases/", body, format="json").json()
    assert (first["id"], first["start"], first["end"]) == (again["id"], again["start"], again["end"])
    assert (first["granted"], first["requested"], first["short"], first["level"]) == (10, 10, False, "ok")
    assert first["remaining"] == 9_990
    short = lab1.post("/api/v1/terminals/LAB1-PC/leases/", {"count": 10_000}, format="json").json()
    assert (short["granted"], short["requested"], short["short"], short["remaining"], short["level"]) == (
        9_990, 10_000, True, 0, "critical")


@pytest.mark.parametrize(("journal_kept", "continues_at"), [(True, 710007), (False, 710006)])
@pytest.mark.django_db(transaction=True)
def test_recover_continues_from_the_right_number_after_deleting_the_outbox(machine_a, journal_kept, continues_at):
    machine_a.outbox.parent.mkdir()
    machine_a.ok("lease", "10")
    [machine_a.register(f"P{i}") for i in range(4)]
    machine_a.ok("sync")  # the server holds 710000-710003
    [machine_a.register(f"Q{i}") for i in range(2)]  # 710004, 710005 printed, not synced...
    machine_a.ok("status")  # ...but reported: the terminal's counter is at 710006
    machine_a.register("Q2")  # 710006: printed after the last contact, known to this machine's journal only
    os.remove(machine_a.outbox)
    if not journal_kept:  # then the server's knowledge is all there is (the manual: lease afresh if slips were printed)
        (machine_a.device_dir / "printed-LAB1-PC.json").unlink()

    assert f"restored lease 710000-710009, continuing at {continues_at}" in machine_a.ok("recover")
    assert machine_a.register("After the outbox was lost") == printed(continues_at)
    machine_a.ok("sync")
    assert stored() == [printed(n) for n in (710000, 710001, 710002, 710003, continues_at)]


@pytest.mark.django_db(transaction=True)
def test_the_client_runs_without_django_or_the_project(tmp_path):
    shutil.copy(ROOT / "terminals" / "client.py", tmp_path / "client.py")
    probe = ("import sys; sys.path.insert(0, '.'); import client; assert not any(m.split('.')[0] in ('django', 'terminals', 'rest_framework') "
             "for m in sys.modules), sorted(sys.modules)")
    done = subprocess.run([sys.executable, "-I", "-S", "-c", probe], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    usage = subprocess.run([sys.executable, "-I", "-S", "client.py", "--help"], cwd=tmp_path, capture_output=True,
                           text=True)
    assert usage.returncode == 0 and "lease 500" in usage.stdout and "recover" in usage.stdout


@pytest.mark.django_db(transaction=True)
def test_a_skewed_clock_is_accepted_and_flagged_and_the_ops_view_shows_each_terminal(live_server, key, tmp_path,
                                                                                     admin, lab2):
    from datetime import datetime, timezone

    from terminals.client import TerminalClient

    ahead = TerminalClient(live_server.url, key=key, terminal="LAB1-PC", path=str(tmp_path / "o.sqlite3"),
                           clock=lambda: datetime.now(timezone.utc) + timedelta(hours=1))
    ahead.lease(10)
    [ahead.register(full_name=f"P{i}") for i in range(3)]
    ahead.sync()
    ahead.register(full_name="Waiting")
    ahead.check()
    patient = Patient.objects.get(mrn=printed(710000))
    # An hour ahead is beyond the allowed skew: stored with the server's time, the terminal's claim kept and flagged.
    assert patient.registered_at == patient.synced_at
    assert SkewedRegistration.objects.filter(terminal__code="LAB1-PC").count() == 3
    assert queries.skewed_terminal_count() == 1

    rows = {row["code"]: row for row in admin.get("/api/v1/terminals/").json()["terminals"]}
    lab1 = rows["LAB1-PC"]
    assert (lab1["pending"], lab1["refused"], lab1["registered"], lab1["open_incidents"]) == (1, 0, 3, 0)
    assert lab1["clock_skewed"] and 3500 < lab1["clock_skew_seconds"] < 3700
    assert lab1["last_sync_at"] and lab1["last_contact_at"] >= lab1["last_sync_at"]
    assert [(x["start"], x["used"], x["unused"], x["synced"], x["high_water"]) for x in lab1["leases"]] == [
        (710000, 4, 6, 3, 710002)]
    assert rows["LAB2-PC"]["last_contact_at"] is None
    # A terminal sees its own row and leases only.
    assert [row["code"] for row in lab2.get("/api/v1/terminals/").json()["terminals"]] == ["LAB2-PC"]
    assert lab2.get("/api/v1/terminals/LAB1-PC/leases/").status_code == 403
    page = admin.get("/admin/terminals/labterminal/").content.decode()
    assert "+36" in page and "background:#fca5a5" in page
    report = call_command_output("terminal_utilisation")
    assert "pending 1, refused 0, clock +36" in report and "SKEWED" in report
    assert "lease 710000-710009: used 4, unused 6, synced 3, high-water 710002" in report
    change = admin.get(f"/admin/terminals/labterminal/{LabTerminal.objects.get(code='LAB1-PC').pk}/change/")
    assert "4 / 6 (3 synced)" in change.content.decode()
