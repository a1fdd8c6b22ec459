"""Repeated failed logins lock the username out from that address (django-axes), on the API and
the admin alike, and the person locked out is told so."""

import pytest
from django.conf import settings
from django.urls import resolve, reverse
from rest_framework.test import APIClient, APIRequestFactory

from cxplatform.api import TokenLoginView
from cxplatform.roles import EXECUTIVE, SUPPORT

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"  # what tests/conftest.py's make_user sets
LIMIT = settings.AXES_FAILURE_LIMIT
COOL_OFF_HOURS = settings.AXES_COOLOFF_TIME


def token_login(client: APIClient, username: str, password: str):
    return client.post("/api/auth/token/", {"username": username, "password": password}, format="json")


def admin_login(client, username: str, password: str):
    return client.post(reverse("admin:login"), {"username": username, "password": password})


def test_the_limit_is_five_by_default():
    assert (LIMIT, COOL_OFF_HOURS) == (5, 0.25)


def test_token_login_returns_a_token_that_authenticates(make_user):
    make_user(SUPPORT)
    response = token_login(APIClient(), "support", PASSWORD)
    assert response.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert client.get("/api/customers/").status_code == 200


def test_api_lockout_after_repeated_failures(make_user):
    make_user(SUPPORT)
    make_user(EXECUTIVE)
    client = APIClient()

    for attempt in range(1, LIMIT):
        response = token_login(client, "support", "wrong")
        assert response.status_code == 400, attempt
        assert response.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}

    # The failure that reaches the limit already says so, and so does every later attempt.
    for password in ("wrong", PASSWORD):
        response = token_login(client, "support", password)
        assert response.status_code == 429, response.content
        assert response["Content-Type"] == "application/json"
        body = response.json()
        assert set(body) == {"detail"}
        assert "Too many failed login attempts" in body["detail"]
        assert f"locked for {round(COOL_OFF_HOURS * 60)} minutes" in body["detail"]
        assert int(response["Retry-After"]) == COOL_OFF_HOURS * 3600
        assert "token" not in body

    # Locking is per username and address: a colleague at the same address still gets in.
    assert token_login(client, "executive", PASSWORD).status_code == 200
    # ... and so does the same person from another address.
    other_address = APIClient(REMOTE_ADDR="10.0.0.7")
    assert token_login(other_address, "support", PASSWORD).status_code == 200


def test_a_success_before_the_limit_starts_the_count_again(make_user):
    # AXES_RESET_ON_SUCCESS needs Django's user_logged_in, which DRF's own token view never sends.
    assert resolve("/api/auth/token/").func.view_class is TokenLoginView
    user = make_user(SUPPORT)
    client = APIClient()
    for _ in range(LIMIT - 1):
        assert token_login(client, "support", "wrong").status_code == 400
    assert token_login(client, "support", PASSWORD).status_code == 200
    for _ in range(LIMIT - 1):
        assert token_login(client, "support", "wrong").status_code == 400
    assert token_login(client, "support", PASSWORD).status_code == 200
    user.refresh_from_db()
    assert user.last_login is not None


def test_token_login_view_starts_the_count_again_on_success(make_user):
    # The view itself, called directly, until urls.py routes the token endpoint to it.
    user = make_user(SUPPORT)
    view = TokenLoginView.as_view()

    def login(password: str) -> int:
        body = {"username": "support", "password": password}
        return view(APIRequestFactory().post("/api/auth/token/", body, format="json")).status_code

    for _ in range(2):
        assert [login("wrong") for _ in range(LIMIT - 1)] == [400] * (LIMIT - 1)
        assert login(PASSWORD) == 200
    user.refresh_from_db()
    assert user.last_login is not None
    assert [login("wrong") for _ in range(LIMIT)] == [400] * (LIMIT - 1) + [429]


def test_admin_login_lockout_after_repeated_failures(client, make_user):
    make_user(SUPPORT)
    make_user(EXECUTIVE)

    for _ in range(1, LIMIT):
        response = admin_login(client, "support", "wrong")
        assert response.status_code == 200  # the form again, with its error
        assert "Please enter the correct username and password" in response.content.decode()

    for password in ("wrong", PASSWORD):
        response = admin_login(client, "support", password)
        assert response.status_code == 429
        assert "Account locked: too many login attempts" in response.content.decode()
    assert client.get(reverse("admin:index")).status_code == 302  # still not logged in

    response = admin_login(client, "executive", PASSWORD)
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_failures_on_the_api_and_the_admin_add_up(client, make_user):
    # One counter per username and address, whichever door is knocked on.
    make_user(SUPPORT)
    api = APIClient()
    for _ in range(LIMIT - 1):
        assert token_login(api, "support", "wrong").status_code == 400
    assert admin_login(client, "support", "wrong").status_code == 429
    assert token_login(api, "support", PASSWORD).status_code == 429
