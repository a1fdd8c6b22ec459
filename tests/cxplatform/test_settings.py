"""Settings refuse to run insecurely, pass Django's deploy check, and the API's schema and error
format hold: bad input is a JSON 400 naming the field, never a 500."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.validation import validate_schema

from customers.models import ClientType
from cxplatform.roles import CX_LEAD
from tests.factories import CustomerFactory, EventFactory, TouchpointFactory

BASE_DIR = Path(settings.BASE_DIR)


def manage(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """Run manage.py in a fresh process that sees only `env` and an env file of the test's own."""
    env_file = tmp_path / "env"
    if not env_file.exists():
        env_file.write_text("")
    clean_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "ENV_FILE": str(env_file),  # never the checkout's .env, whatever it holds
        # Both stay in the test's folder: nothing here needs the real database or broker.
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CELERY_BROKER_DIR": str(tmp_path / "broker"),
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def random_key() -> str:
    return secrets.token_urlsafe(50)  # 67 characters, as `check --deploy` wants 50+ varied ones


# --- the secret key ------------------------------------------------------------------------------


def test_debug_off_without_a_secret_key_refuses_to_start(tmp_path):
    result = manage("check", tmp_path=tmp_path, DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_an_empty_secret_key_in_the_environment_is_not_filled_in_from_the_env_file(tmp_path):
    (tmp_path / "env").write_text(f"DEBUG=1\nSECRET_KEY={random_key()}\n")
    result = manage("check", tmp_path=tmp_path, DEBUG="0", SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_the_env_file_is_read_when_the_environment_says_nothing(tmp_path):
    # The counterpart of the test above: proves the env file is in play there.
    (tmp_path / "env").write_text(f"SECRET_KEY={random_key()}\n")
    result = manage("check", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr


def test_debug_on_runs_without_a_secret_key(tmp_path):
    result = manage("check", tmp_path=tmp_path, DEBUG="1")
    assert result.returncode == 0, result.stderr


def test_deploy_check_is_clean(tmp_path):
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        tmp_path=tmp_path,
        DEBUG="0",
        SECRET_KEY=random_key(),
        ALLOWED_HOSTS="cx.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


# --- the schema and the docs ---------------------------------------------------------------------


@pytest.mark.django_db
def test_schema_is_valid_openapi_3_and_generates_without_warnings(client):
    GENERATOR_STATS.reset()
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    problems = {**GENERATOR_STATS._warn_cache, **GENERATOR_STATS._error_cache}
    assert not problems, "\n".join(problems)
    validate_schema(schema)  # raises on anything OpenAPI 3 does not allow
    assert schema["openapi"].startswith("3.")
    for path in ("/api/customers/", "/api/segments/{id}/refresh/", "/api/auth/token/"):
        assert path in schema["paths"]


@pytest.mark.django_db
def test_docs_page_opens_for_a_logged_in_user(client, make_user):
    client.force_login(make_user(CX_LEAD))
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert "swagger" in response.content.decode().lower()


# --- JSON errors -----------------------------------------------------------------------------------


@pytest.fixture
def lead(api_as):
    return api_as(CX_LEAD)


def assert_json(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.content)
    assert response["Content-Type"] == "application/json"
    return response.json()


@pytest.mark.django_db
def test_malformed_json_is_a_400(lead):
    response = lead.post("/api/customers/", '{"name": "Anna",', content_type="application/json")
    body = assert_json(response, 400)
    assert "JSON parse error" in body["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/customers/?lifecycle_stage=nonsense", "lifecycle_stage"),
        ("/api/customers/?created_after=notadate", "created_after"),
        ("/api/customers/?created_before=2024-13-45", "created_before"),
        ("/api/customers/?service_class=gold", "service_class"),
        ("/api/customers/?client_type=no-such-type", "client_type"),
        ("/api/customers/?segment=999999", "segment"),
        ("/api/customers/?survey_consent=perhaps", "survey_consent"),
        ("/api/events/?kind=teleport", "kind"),
        ("/api/events/?occurred_after=yesterday", "occurred_after"),
        ("/api/events/?customer=abc", "customer"),
        ("/api/touchpoints/?journey_stage=nowhere", "journey_stage"),
        ("/api/segments/?is_active=maybe", "is_active"),
    ],
)
def test_a_bad_filter_value_is_a_400_naming_the_filter(lead, url, field):
    body = assert_json(lead.get(url), 400)
    assert list(body) == [field]
    assert body[field] and all(isinstance(message, str) for message in body[field])


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/customers/999999/", "/api/customers/abc/", "/api/segments/999999/"])
def test_an_unknown_id_is_a_404(lead, url):
    assert "detail" in assert_json(lead.get(url), 404)


@pytest.mark.django_db
def test_deleting_a_client_type_in_use_is_a_409_saying_why(lead):
    customer = CustomerFactory(client_type=ClientType.objects.create(slug="vip", name="VIP"))
    response = lead.delete(f"/api/client-types/{customer.client_type.pk}/")
    body = assert_json(response, 409)
    assert body["detail"] == "Still in use by customers; reassign or remove those first."
    customer.refresh_from_db()
    assert customer.client_type.slug == "vip"


@pytest.mark.django_db
def test_deleting_a_touchpoint_with_events_is_a_409(lead):
    touchpoint = TouchpointFactory()
    EventFactory(touchpoint=touchpoint)
    body = assert_json(lead.delete(f"/api/touchpoints/{touchpoint.pk}/"), 409)
    assert "events" in body["detail"]
