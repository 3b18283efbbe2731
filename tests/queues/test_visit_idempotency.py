"""POST /api/v1/visits/ honours Idempotency-Key like patients do: a retry returns the first visit and
takes no token; a different body with the key is 422; the key is the user's own."""

import pytest
from rest_framework.test import APIClient

from idseq.models import Counter
from queues.models import Visit
from tests.conftest import make_user, run_in_threads
from tests.queues.conftest import make_patients


def issue(client, patient, key, queue="GEN"):
    return client.post("/api/v1/visits/", {"patient": patient.pk, "queue": queue}, format="json",
                       HTTP_IDEMPOTENCY_KEY=key)


def test_a_retry_with_the_same_key_returns_the_first_visit_and_takes_no_token(api, general):
    (patient,) = make_patients(1)
    first, again = issue(api, patient, "v-1"), issue(api, patient, "v-1")
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again.json()["token"] == "GEN-001"
    assert Visit.objects.count() == 1
    assert Counter.objects.get(sequence__key="visit-token", scope__startswith="GEN-").last_value == 1


def test_the_same_key_with_another_body_is_422(api, general, lab):
    (patient,) = make_patients(1)
    issue(api, patient, "v-1")
    response = issue(api, patient, "v-1", queue="LAB")
    assert response.status_code == 422
    assert Visit.objects.count() == 1


def test_another_users_key_is_their_own(api, general):
    a, b = make_patients(2)
    issue(api, a, "v-1")
    other = APIClient()
    other.force_authenticate(make_user("desk2", "reception"))
    response = issue(other, b, "v-1")
    assert response.status_code == 201 and response.json()["token"] == "GEN-002"


@pytest.mark.django_db(transaction=True)
def test_eight_copies_sent_at_once_issue_one_visit(general):
    (patient,) = make_patients(1)
    user = make_user("desk1", "reception")

    def send(_):
        client = APIClient()
        client.force_authenticate(user)
        return issue(client, patient, "v-same")

    responses, errors = run_in_threads(send, 8)
    assert not errors
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert Visit.objects.count() == 1
    assert Counter.objects.get(sequence__key="visit-token", scope__startswith="GEN-").last_value == 1
