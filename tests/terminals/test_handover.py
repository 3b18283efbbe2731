"""A dead PC's work handed to its replacement: ops bind its lease to the new machine (admin or manage.py), the
client there adopts the old outbox, syncs every printed record under its printed MRN and numbers on."""

import shutil
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from patients.models import Patient
from terminals import queries
from terminals.models import LabTerminal, LeaseHandover, TerminalLease
from tests.conftest import make_user
from tests.terminals.conftest import printed


def identity(status_output: str) -> str:
    return status_output.splitlines()[0].rsplit("this machine: ", 1)[1]


@pytest.mark.django_db(transaction=True)
def test_a_dead_pcs_lease_is_handed_over_and_nothing_is_lost(machine_a, machine_b):
    dead, new = machine_a, machine_b
    dead.outbox.parent.mkdir()
    new.outbox.parent.mkdir()
    dead.ok("lease", "20")
    slips = [dead.register(f"Patient {i}") for i in range(5)]
    dead.ok("status")  # its last contact: 5 printed
    lease = queries.ops_view(code="LAB1-PC")[0]["leases"][0]
    assert (lease["printed"], lease["synced"], lease["unsynced"]) == (5, 0, 5)

    shutil.copy(dead.outbox, new.outbox)  # the dead PC's disk, in the new PC
    status, _out, err = new.run("adopt")
    assert status == 1 and "ask ops to hand it over" in err  # nothing without ops
    new_id = identity(new.ok("status"))
    ops = make_user("ops", "admin", is_staff=True)
    with pytest.raises(CommandError, match="Say why"):
        call_command("hand_over_lease", "LAB1-PC", "710000", "--to", new_id, "--by", "ops", "--reason", " ")
    out = StringIO()
    call_command("hand_over_lease", "LAB1-PC", "710000", "--to", new_id, "--by", "ops", "--reason",
                 "PC D died; its disk is in PC E", stdout=out)
    assert "run the client's adopt there" in out.getvalue()
    handover = LeaseHandover.objects.get()
    assert (handover.by, handover.to_device, handover.reason) == (ops, new_id, "PC D died; its disk is in PC E")
    assert TerminalLease.objects.get().device_id == new_id

    assert "adopted lease 710000-710019: 5 registration(s) to sync, continuing at 710005" in new.ok("adopt")
    assert "created 5, already synced 0, needs attention 0, left to another machine 0" in new.ok("sync")
    assert new.register("After the handover") == printed(710005)
    new.ok("sync")
    assert sorted(Patient.objects.values_list("mrn", flat=True)) == slips + [printed(710005)]  # 0 lost
    lease = queries.ops_view(code="LAB1-PC")[0]["leases"][0]
    assert (lease["printed"], lease["synced"], lease["unsynced"], lease["stale"]) == (6, 6, 0, False)


@pytest.mark.django_db(transaction=True)
def test_a_lease_unreported_for_hours_with_unsynced_slips_is_flagged_stale(machine_a, settings, admin):
    machine_a.outbox.parent.mkdir()
    machine_a.ok("lease", "10")
    machine_a.register("Never synced")
    machine_a.ok("status")
    settings.TOKENLINE_OFFLINE_STALE_HOURS = 0
    assert [lease["stale"] for row in queries.ops_view() for lease in row["leases"]] == [True]
    assert queries.stale_lease_count() == 1
    assert "tokenline_terminal_leases_stale 1.0" in admin.get("/metrics").content.decode()
    machine_a.ok("sync")
    assert queries.stale_lease_count() == 0


@pytest.mark.django_db(transaction=True)
def test_ops_hand_a_lease_over_in_the_admin_with_who_and_why(machine_a, machine_b, admin):
    machine_a.outbox.parent.mkdir()
    machine_b.outbox.parent.mkdir()
    machine_a.ok("lease", "5")
    new_id = identity(machine_b.ok("status"))

    terminal = LabTerminal.objects.get(code="LAB1-PC")
    form = {"terminal": terminal.pk, "start": 710000, "to_device": new_id, "reason": "disk moved"}
    assert admin.post("/admin/terminals/leasehandover/add/", {**form, "to_device": "unknown"}).status_code == 200
    assert not LeaseHandover.objects.exists()
    response = admin.post("/admin/terminals/leasehandover/add/", form)
    assert response.status_code == 302
    handover = LeaseHandover.objects.get()
    assert (handover.by.username, handover.reason, TerminalLease.objects.get().device_id) == (
        "ops", "disk moved", new_id)


@pytest.mark.django_db(transaction=True)
def test_the_admin_shows_each_lease_printed_synced_unsynced_and_the_servers_records(machine_a, admin):
    machine_a.outbox.parent.mkdir()
    machine_a.ok("lease", "10")
    machine_a.register("Synced")
    machine_a.ok("sync")
    machine_a.register("Not yet", "--dob", "1850-01-01")
    machine_a.ok("sync", status=4)
    terminal = LabTerminal.objects.get(code="LAB1-PC")
    page = admin.get(f"/admin/terminals/labterminal/{terminal.pk}/change/").content.decode()
    assert "printed / synced / unsynced" in page.lower() and "2 / 1 / 1" in page
    listed = admin.get("/admin/terminals/refusedregistration/").content.decode()
    assert "1850" in listed or "1900-01-01" in listed
    for page in ("terminaldevice", "skewedregistration", "leasehandover"):
        assert admin.get(f"/admin/terminals/{page}/").status_code == 200
