"""A cloned lab PC (outbox, device directory and machine-id copied with the disk: the same identity): the numbers
both print before the first contact collide, the first collision puts the lease on hold for every machine, and
nothing printed from it afterwards is accepted or printed twice."""

import shutil

import pytest

from patients.models import Patient
from terminals.models import OfflineIncident, TerminalLease
from tests.terminals.conftest import printed


@pytest.mark.django_db(transaction=True)
def test_a_cloned_pc_collides_only_before_its_first_contact_and_the_lease_goes_on_hold(machine_a, machine_b):
    a, clone = machine_a, machine_b
    a.outbox.parent.mkdir()
    a.ok("lease", "10")
    assert [a.register("A0"), a.register("A1")] == [printed(710000), printed(710001)]
    shutil.copytree(a.outbox.parent, clone.outbox.parent)  # the whole disk: outbox, identity, journal
    # Both print before either is in touch again: one number, two patients.
    assert a.register("A2") == printed(710002)
    assert [clone.register("C2"), clone.register("C3")] == [printed(710002), printed(710003)]

    assert "created 4, already synced 0, needs attention 0" in clone.ok("sync")
    status, out, err = a.run("sync")  # the first collision: A2 was registered before C2, so A2 keeps the MRN
    assert status == 4 and "created 1, already synced 2, needs attention 0" in out
    assert "is on hold: two machines printed the same number from it" in err
    lease = TerminalLease.objects.get()
    assert lease.on_hold_at is not None and lease.hold_mark == 710003
    incident = OfflineIncident.objects.get()
    assert (incident.kind, incident.mrn, incident.kept.full_name) == ("collision", printed(710002), "A2")
    renumbered = Patient.objects.get(full_name="C2")
    assert incident.new_patient == renumbered and renumbered.mrn != printed(710002)
    assert Patient.objects.get(mrn=printed(710002)).full_name == "A2"

    status, _out, err = a.run("register", "--name", "A3")  # the machine that learned it prints no more from it
    assert status == 1 and "on hold" in err
    # The clone printed once more before its next contact: refused and held for a new MRN, never a second slip.
    assert clone.register("C4") == printed(710004)
    status, out, err = clone.run("sync")
    assert status == 4 and "needs attention 1" in out and "on hold" in err
    # ...and, on this plain sync, learns that its C2 slip has a new number.
    assert f"REPRINT: the slip printed as {printed(710002)} now has MRN {renumbered.mrn}" in out
    assert OfflineIncident.objects.filter(kind="on_hold", mrn=printed(710004)).exists()
    status, _out, err = clone.run("register", "--name", "C5")
    assert status == 1 and "on hold" in err

    # Sharing one identity, they cannot go on: each contact of one presents an epoch the other moved on from, so a
    # fresh lease of either is put on hold when the other is next in touch.
    assert a.ok("lease", "5").startswith("Leased 710010-710014")
    assert a.register("A3") == printed(710010)
    status, _out, err = clone.run("status")
    assert "on hold" in err or "on hold" in _out
    assert TerminalLease.objects.get(start=710010).on_hold_at is not None
    stored = sorted(Patient.objects.values_list("mrn", flat=True))
    assert len(stored) == len(set(stored)) == 5  # 710000-710003 and C2's new MRN: one record per number
    assert OfflineIncident.objects.count() == 2  # 710002 (printed twice), 710004 (printed after the hold)


@pytest.mark.django_db(transaction=True)
def test_a_clone_is_caught_by_its_epoch_before_any_collision(machine_a, machine_b):
    a, clone = machine_a, machine_b
    a.outbox.parent.mkdir()
    a.ok("lease", "10")
    a.register("A0")
    shutil.copytree(a.outbox.parent, clone.outbox.parent)
    a.ok("status")  # epoch n presented, n+1 issued
    clone.ok("status")  # n again: taken for a lost reply
    status, out, err = a.run("status")  # n+1, but the server moved on for the clone: two machines, one identity
    assert "is on hold" in out + err
    lease = TerminalLease.objects.get()
    assert lease.on_hold_at is not None and lease.hold_mark == 710000
    assert not OfflineIncident.objects.exists() and not Patient.objects.exists()
    status, _out, err = a.run("register", "--name", "A1")
    assert status == 1 and "on hold" in err
    assert "created 1" in a.ok("sync")  # 710000, printed before the hold: accepted


@pytest.mark.django_db(transaction=True)
def test_a_lost_reply_does_not_look_like_a_clone(proxy, key, tmp_path):
    from tests.terminals.conftest import DropReplies, Terminal

    terminal = Terminal(proxy, key, tmp_path / "outbox.sqlite3", tmp_path / "device")
    terminal.ok("lease", "5")
    terminal.register("P0")
    DropReplies.dropping, DropReplies.once = "/sync/", True  # the server stored it and issued an epoch; lost
    assert "created 0, already synced 1" in terminal.ok("sync")  # the retry presents the older epoch: accepted
    terminal.ok("status")
    terminal.ok("status")
    assert TerminalLease.objects.get().on_hold_at is None
