"""Property-based run of every API operation against the live OpenAPI schema (schemathesis).

Every response must be documented (status code, content type, body schema)
and none may be a server error, whatever the generated input.
"""
import os
import socket

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from helpdesk.wsgi import application
from tests.factories import CategoryFactory, make_ticket

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)
RESPONSE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    # The real WSGI handler closes "old" database connections around each
    # request, which would close the test's transaction; Django's own test
    # client switches this off in the same way.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _no_real_dns(monkeypatch):
    # Generated webhook URLs would otherwise be looked up in real DNS; every name resolves to one public address.
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "",
                                                                  ("93.184.215.14", 443))])


@pytest.fixture
def manager_token(mona):
    CategoryFactory(name="Network", slug="network")
    for _ in range(2):
        make_ticket()
    return Token.objects.get_or_create(user=mona)[0].key


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "25")), deadline=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_conforms_and_never_fails(case, manager_token):
    # Every response is checked: no 5xx, a documented status code, content type, headers and body.
    # The API is deliberately lenient with some input the schema does not describe (an unknown ordering
    # is ignored), and strict with some it does (an unknown tier is a 400), so the input-acceptance
    # checks are not part of this test.
    case.call_and_validate(headers={"Authorization": f"Token {manager_token}"}, checks=RESPONSE_CHECKS)
