import pytest


@pytest.fixture
def agent(client, alice):
    """The test client, signed in as Alice (L1 agent)."""
    client.force_login(alice)
    return client
