"""`GET /api/v1/requesters/{id}/export/` and `POST /api/v1/requesters/{id}/anonymise/`: managers only, the API's
error shape and status codes, the access log, and both operations documented in the OpenAPI schema."""
import pytest
from rest_framework import serializers

from privacy import services
from privacy.api import AnonymiseResult, RequesterExport
from privacy.models import AccessRecord, Action, Channel
from tests.privacy.conftest import EMAIL, client_for
from tickets.models import Requester

pytestmark = pytest.mark.django_db


def export_url(pk) -> str:
    return f"/api/v1/requesters/{pk}/export/"


def anonymise_url(pk) -> str:
    return f"/api/v1/requesters/{pk}/anonymise/"


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code and body["detail"], body


def assert_shape(value, serializer) -> None:
    """`value` has exactly the fields the schema's serializer documents, recursively."""
    if isinstance(serializer, serializers.ListSerializer):
        for item in value:
            assert_shape(item, serializer.child)
        return
    if isinstance(serializer, serializers.Serializer):
        if value is None:
            assert serializer.allow_null
            return
        assert set(value) == set(serializer.fields), (set(value) ^ set(serializer.fields))
        for name, field in serializer.fields.items():
            assert_shape(value[name], field)


def test_a_manager_exports_a_requester(person, mona):
    response = client_for(mona).get(export_url(person.requester.pk), REMOTE_ADDR="192.0.2.5")
    assert response.status_code == 200
    document = response.json()
    assert document["requester"]["email"] == EMAIL and len(document["tickets"]) == 3
    assert_shape(document, RequesterExport())
    record = AccessRecord.objects.get(action=Action.EXPORTED)
    assert (record.user, record.channel, record.address) == (mona, Channel.API, "192.0.2.5")


def test_a_manager_anonymises_a_requester_once(person, mona):
    api = client_for(mona)
    response = api.post(anonymise_url(person.requester.pk), {"reason": "Erasure request REQ-7"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert_shape(body, AnonymiseResult())
    assert (body["requester"], body["already"], body["tickets"], body["attachments"]) == (
        person.requester.pk, False, 3, 2)
    assert Requester.objects.get(pk=person.requester.pk).email == services.placeholder_email(person.requester.pk)
    record = AccessRecord.objects.get(action=Action.ANONYMISED)
    assert (record.channel, record.reason) == (Channel.API, "Erasure request REQ-7")
    again = api.post(anonymise_url(person.requester.pk), {"reason": "again"}, format="json")
    assert again.status_code == 200 and again.json()["already"] is True and again.json()["tickets"] == 0
    assert AccessRecord.objects.filter(action=Action.ANONYMISED).count() == 1
    # The export of an anonymised requester says so and holds only the placeholders.
    exported = api.get(export_url(person.requester.pk)).json()
    assert exported["requester"]["anonymised"] is True and "Zephyrwood" not in str(exported)


def test_agents_are_refused_with_403(person, alice):
    api = client_for(alice)
    assert_error(api.get(export_url(person.requester.pk)), 403, "permission_denied")
    assert_error(api.post(anonymise_url(person.requester.pk), {"reason": "x"}, format="json"), 403,
                 "permission_denied")
    # Refused whether or not the requester exists: the role decides before anything is looked up.
    assert_error(api.get(export_url(999999)), 403, "permission_denied")
    assert Requester.objects.get(pk=person.requester.pk).email == EMAIL
    assert not AccessRecord.objects.exists()


def test_without_credentials_401(person):
    anonymous = client_for(None)
    assert_error(anonymous.get(export_url(person.requester.pk)), 401, "not_authenticated")
    assert_error(anonymous.post(anonymise_url(person.requester.pk), {"reason": "x"}, format="json"), 401,
                 "not_authenticated")


def test_unknown_requester_404_and_bad_input_400(person, mona):
    api = client_for(mona)
    for pk in (999999, 2**63, 0):
        assert_error(api.get(export_url(pk)), 404, "not_found")
        assert_error(api.post(anonymise_url(pk), {"reason": "x"}, format="json"), 404, "not_found")
    for payload in ({}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 1001}, {"reason": ["a"]}):
        response = api.post(anonymise_url(person.requester.pk), payload, format="json")
        assert_error(response, 400, "invalid")
        assert "reason" in response.json()["errors"]
    assert_error(api.generic("POST", anonymise_url(person.requester.pk), "{nope", content_type="application/json"),
                 400, "parse_error")
    assert Requester.objects.get(pk=person.requester.pk).email == EMAIL


def test_wrong_methods_are_405(person, mona):
    api = client_for(mona)
    assert api.post(export_url(person.requester.pk), {}, format="json").status_code == 405
    assert api.get(anonymise_url(person.requester.pk)).status_code == 405
    assert not AccessRecord.objects.exists()


def test_both_operations_are_in_the_openapi_schema(mona):
    schema = client_for(mona).get("/api/v1/schema/", {"format": "json"}).json()
    export = schema["paths"]["/api/v1/requesters/{id}/export/"]["get"]
    anonymise = schema["paths"]["/api/v1/requesters/{id}/anonymise/"]["post"]
    assert export["tags"] == anonymise["tags"] == ["privacy"]
    assert set(export["responses"]) == {"200", "401", "403", "404", "429"}
    assert set(anonymise["responses"]) == {"200", "400", "401", "403", "404", "415", "429"}
    assert export["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/RequesterExport")
    body = anonymise["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert schema["components"]["schemas"][body.rsplit("/", 1)[1]]["required"] == ["reason"]
