import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from cxplatform import celery_app
from cxplatform.roles import ROLE_NAMES


@pytest.fixture(autouse=True)
def _celery_runs_inline(settings):
    """Tasks queued by the code under test run in-process; tests/integration/ uses a real worker."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # make_user hashes a password per test; PBKDF2's real cost would make the role matrices slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_user(db):
    def make(role: str | None = None, *, username: str | None = None, superuser: bool = False) -> User:
        name = username or (role or "nobody").lower().replace(" ", "_")
        user = User.objects.create_user(name, f"{name}@example.com", "correct-horse-battery", is_staff=True)
        if superuser:
            user.is_superuser = True
            user.save()
        if role:
            assert role in ROLE_NAMES
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def api_as(make_user):
    """An API client logged in as a user of the given role (token auth, as integrations use)."""

    def client_for(role: str) -> APIClient:
        client = APIClient()
        client.force_authenticate(make_user(role))
        return client

    return client_for


@pytest.fixture
def lead_api(api_as):
    return api_as("CX lead")


@pytest.fixture(autouse=True)
def _fresh_cache():
    """CI's cache is Redis (CACHE_URL), shared across runs: the web form's rate limit must not
    remember an earlier test's (or run's) posts."""
    from django.core.cache import cache

    cache.clear()
