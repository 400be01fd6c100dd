"""Sign-in and the start page."""
import pytest
from django.urls import reverse

from tests.factories import make_ticket, staff_user
from tickets import services

pytestmark = pytest.mark.django_db


def test_home_requires_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_sign_in_and_see_open_work_per_tier(client, alice, as_alice):
    tickets = [make_ticket() for _ in range(3)]
    services.ticket_take(actor=as_alice, ticket_id=tickets[0].pk)
    response = client.post(reverse("login"), {"username": "alice", "password": "pw"}, follow=True)
    page = response.content.decode()
    assert "Signed in as alice" in page and "Role: agent" in page
    row = page.split('<tr class="mine">')[1].split("</tr>")[0]
    assert "L1" in row and "your tier" in row
    assert [cell.split("<")[0] for cell in row.split("<td>")[1:5]] == ["2", "1", "0", "0"]  # new, diagnosing, ...


def test_wrong_password_is_refused(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_user_without_role_sees_no_ticket_counts(client, django_user_model):
    django_user_model.objects.create_user("visitor", password="pw")
    make_ticket()
    client.login(username="visitor", password="pw")
    page = client.get("/").content.decode()
    assert "no support role" in page and "<table" not in page


def test_home_query_count_is_constant(client, mona, django_assert_max_num_queries):
    client.force_login(mona)
    make_ticket()
    with django_assert_max_num_queries(8) as baseline:
        client.get("/")
    for _ in range(10):
        make_ticket()
    staff_user("extra", tier="L2")
    with django_assert_max_num_queries(len(baseline.captured_queries)):
        client.get("/")


def test_subject_is_escaped_in_the_admin(client, mona):
    make_ticket(subject="<script>alert(1)</script>")
    client.force_login(mona)
    page = client.get(reverse("admin:tickets_ticket_changelist")).content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_pages_send_security_headers(client, alice):
    client.force_login(alice)
    response = client.get("/")
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
