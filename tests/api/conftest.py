import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def client_for(user=None, *, token=True):
    client = APIClient()
    if user is not None:
        if token:
            client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
        else:
            client.force_login(user)
    return client


@pytest.fixture
def api_alice(alice):
    return client_for(alice)


@pytest.fixture
def api_bob(bob):
    return client_for(bob)


@pytest.fixture
def api_mona(mona):
    return client_for(mona)


@pytest.fixture
def anonymous(db):
    return APIClient()
