"""Fixtures of the reception pages."""

import pytest
from django.test import Client


@pytest.fixture
def desk(reception):
    """A browser-like client logged in as the receptionist `desk1`."""
    client = Client()
    assert client.login(username="desk1", password="pw-desk1")
    return client


@pytest.fixture
def carrier_desk(carrier):
    """A browser-like client logged in as `carrier`, who may carry over numbers."""
    client = Client()
    assert client.login(username="carrier", password="pw-carrier")
    return client
