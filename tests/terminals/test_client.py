"""terminals/client.py: the local lease and outbox, and how it talks to the server."""

import pytest

from patients.models import Patient
from terminals import services
from terminals.client import LeaseExhausted, Refused, ServerUnreachable, TerminalClient
from terminals.models import LabTerminal


@pytest.fixture
def client(live_server, seed_terminals, tmp_path):
    key = services.issue_terminal_key(terminal=LabTerminal.objects.get(code="LAB1-PC"))
    return TerminalClient(live_server.url, key=key, terminal="LAB1-PC", path=str(tmp_path / "lab1.sqlite3"),
                          backoff=0.01)


@pytest.mark.django_db(transaction=True)
def test_the_client_numbers_from_its_lease_and_syncs_exactly_those_numbers(client):
    assert client.lease(3) == (710000, 710002)
    mrns = [client.register(full_name=f"Patient {i}") for i in range(3)]
    assert mrns == ["007-10-000", "007-10-001", "007-10-002"]  # grouped, as the server writes them
    with pytest.raises(LeaseExhausted):
        client.register(full_name="One too many")
    assert len(client.outbox("pending")) == 3
    report = client.sync()
    assert (report.created, report.already_synced, report.refused) == (3, 0, [])
    assert sorted(report.stored.values()) == mrns
    assert client.sync().created == 0  # nothing pending any more
    assert client.sync(replay=True).already_synced == 3
    assert sorted(Patient.objects.values_list("mrn", flat=True)) == mrns


@pytest.mark.django_db(transaction=True)
def test_items_the_server_refuses_are_kept_with_the_reason(client):
    client.lease(1)
    client.register(full_name="")  # the server requires a name
    report = client.sync()
    assert [r["status"] for r in report.refused] == [400]
    assert client.outbox("attention")[0]["detail"] == '{"full_name": ["This field may not be blank."]}'


@pytest.mark.django_db(transaction=True)
def test_a_revoked_key_is_refused_and_an_unreachable_server_is_retried_then_reported(client, tmp_path):
    client.lease(1)
    client.register(full_name="Waiting")
    services.revoke_terminal_key(terminal=LabTerminal.objects.get(code="LAB1-PC"))
    with pytest.raises(Refused) as refused:
        client.sync()
    assert refused.value.status == 401
    offline = TerminalClient("http://127.0.0.1:9", key="x", terminal="LAB1-PC", path=str(tmp_path / "lab1.sqlite3"),
                             retries=2, backoff=0.01)
    with pytest.raises(ServerUnreachable):
        offline.sync()
    assert len(offline.outbox("pending")) == 1  # nothing lost: it goes out with the next sync
