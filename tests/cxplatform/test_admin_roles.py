"""The admin (the staff UI) enforces the same roles as the API."""

import pytest
from django.contrib import admin
from django.urls import reverse

from cxplatform.roles import ADMIN, CX_LEAD, EXECUTIVE, SUPPORT
from tests.factories import CustomerFactory, EventFactory, SegmentFactory, TouchpointFactory

pytestmark = pytest.mark.django_db

CUSTOMERS_MODELS = ("customer", "event", "segment", "touchpoint", "clienttype")
PAGES = [*(("customers", model) for model in CUSTOMERS_MODELS), ("auth", "user")]

# Per role: the models whose changelist opens, and those whose add page opens; the rest are 403.
CAN_VIEW: dict[str | None, set[str]] = {
    SUPPORT: set(CUSTOMERS_MODELS),
    CX_LEAD: set(CUSTOMERS_MODELS),
    EXECUTIVE: set(CUSTOMERS_MODELS),
    ADMIN: {*CUSTOMERS_MODELS, "user"},
    None: set(),  # staff with no role
}
CAN_ADD: dict[str | None, set[str]] = {
    SUPPORT: {"customer", "event"},
    CX_LEAD: set(CUSTOMERS_MODELS),
    EXECUTIVE: set(),
    ADMIN: {*CUSTOMERS_MODELS, "user"},
    None: set(),
}

CASES = [
    pytest.param(role, app, model, page, id=f"{role or 'no role'}-{app}.{model}-{page}")
    for role in CAN_VIEW
    for app, model in PAGES
    for page in ("changelist", "add")
]


def test_every_customers_model_in_the_admin_is_checked():
    registered = {
        model._meta.model_name for model in admin.site._registry if model._meta.app_label == "customers"
    }
    assert registered == set(CUSTOMERS_MODELS)


@pytest.fixture
def some_rows(db):
    # Non-empty changelists render every column, so a broken list_display shows up here.
    customer = CustomerFactory(loyal=True)
    EventFactory(customer=customer)
    SegmentFactory()
    TouchpointFactory()
    return customer


@pytest.mark.parametrize(("role", "app", "model", "page"), CASES)
def test_admin_pages_follow_the_roles(client, make_user, some_rows, role, app, model, page):
    client.force_login(make_user(role))
    response = client.get(reverse(f"admin:{app}_{model}_{page}"))
    expected = CAN_VIEW[role] if page == "changelist" else CAN_ADD[role]
    assert response.status_code == (200 if model in expected else 403)


@pytest.mark.parametrize("role", [SUPPORT, CX_LEAD, EXECUTIVE, ADMIN])
def test_admin_index_lists_the_customers_app(client, make_user, role):
    client.force_login(make_user(role))
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert reverse("admin:customers_customer_changelist") in response.content.decode()


@pytest.mark.parametrize(
    ("role", "editable"), [(EXECUTIVE, False), (SUPPORT, False), (CX_LEAD, True), (ADMIN, True)]
)
def test_change_page_is_view_only_without_change_permission(client, make_user, some_rows, role, editable):
    client.force_login(make_user(role))
    response = client.get(reverse("admin:customers_customer_change", args=[some_rows.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert ('name="_save"' in html) is editable
    assert ('name="name"' in html) is editable  # view-only pages show values, not inputs
    assert some_rows.name in html


def test_executive_cannot_post_a_change(client, make_user, some_rows):
    client.force_login(make_user(EXECUTIVE))
    url = reverse("admin:customers_customer_change", args=[some_rows.pk])
    response = client.post(url, {"name": "Changed by an executive"})
    assert response.status_code == 403
    some_rows.refresh_from_db()
    assert some_rows.name != "Changed by an executive"


def test_anonymous_is_sent_to_the_login_page(client):
    response = client.get(reverse("admin:customers_customer_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
