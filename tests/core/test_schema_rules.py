"""The schema says what the API answers: list shapes, statuses and query parameters (checked on real rows by
tests/core/test_fuzz.py; here the rules one by one)."""

import pytest
from drf_spectacular.generators import SchemaGenerator

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)


def response_schema(path: str, method: str, status: str) -> dict:
    return SCHEMA["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]


@pytest.mark.parametrize(("path", "item"), [
    ("/api/v1/slots/{id}/tokens/", "TokenOut"), ("/api/v1/waiting-list/by_slot/", "WaitingOut"),
])
def test_whole_lists_are_documented_as_lists_without_page_or_filter_parameters(path, item):
    assert response_schema(path, "get", "200") == {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}}
    names = {parameter["name"] for parameter in SCHEMA["paths"][path]["get"].get("parameters", [])}
    assert names <= {"id", "slot_id"}


def test_cancelling_a_token_is_documented_as_200_with_the_promoted_patient():
    responses = SCHEMA["paths"]["/api/v1/tokens/{id}/"]["delete"]["responses"]
    assert "204" not in responses
    assert response_schema("/api/v1/tokens/{id}/", "delete", "200") == {"$ref": "#/components/schemas/EndedOut"}


@pytest.mark.parametrize(("path", "shape"), [
    ("/api/v1/queues/{id}/board/", "BoardOut"), ("/api/v1/queues/{id}/integrity/", "IntegrityOut"),
])
def test_board_and_integrity_are_documented_with_their_own_shape(path, shape):
    assert response_schema(path, "get", "200") == {"$ref": f"#/components/schemas/{shape}"}


@pytest.mark.parametrize(("url", "parameter"), [
    ("/api/v1/tokens/?slot=", "slot"), ("/api/v1/tokens/?date=", "date"), ("/api/v1/tokens/?status=&category=WALKIN", "status"),
    ("/api/v1/slots/?date=", "date"), ("/api/v1/slots/?doctor=", "doctor"), ("/api/v1/waiting-list/?slot=", "slot"),
    ("/api/v1/visits/?queue=", "queue"), ("/api/v1/visits/?date=", "date"), ("/api/v1/patients/?name=", "name"),
    ("/api/v1/patients/?q=", "q"), ("/api/v1/patients/?dob=", "dob"),
])
def test_a_filter_parameter_without_a_value_is_400_naming_it(admin_api, url, parameter):
    response = admin_api.get(url)
    assert response.status_code == 400
    assert response.json() == {parameter: ["Give a value, or leave the parameter out."]}


def test_filters_with_values_and_absent_filters_still_answer(admin_api):
    assert admin_api.get("/api/v1/tokens/", {"category": "WALKIN"}).status_code == 200
    assert admin_api.get("/api/v1/patients/", {"name": "Ali", "unknown": ""}).status_code == 200
