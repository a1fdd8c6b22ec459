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


# --- surveys: the builder, campaigns, and the read-only records they leave ----------------------

SURVEYS_MODELS = ("survey", "campaign", "invitation", "response", "contactpolicy", "surveyoptout")
SURVEYS_ADDABLE = {"survey", "campaign"}  # the rest are written by the services (or are one row)


def test_every_surveys_model_in_the_admin_is_checked():
    registered = {
        model._meta.model_name for model in admin.site._registry if model._meta.app_label == "surveys"
    }
    assert registered == set(SURVEYS_MODELS)


@pytest.fixture
def survey_rows(db, django_capture_on_commit_callbacks):
    from surveys import services
    from tests.factories import email_campaign

    customer = CustomerFactory()
    campaign = email_campaign()
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_launch(campaign=campaign)
    invitation = campaign.invitations.get()
    services.response_save(invitation=invitation, answers={}, submit=False)
    services.invitation_unsubscribe(invitation=invitation)
    return customer, campaign


@pytest.mark.parametrize("role", [*CAN_VIEW])
@pytest.mark.parametrize("model", SURVEYS_MODELS)
def test_surveys_admin_pages_follow_the_roles(client, make_user, survey_rows, role, model):
    client.force_login(make_user(role))
    listing = client.get(reverse(f"admin:surveys_{model}_changelist"))
    if role is None:
        assert listing.status_code == 403
    elif model == "contactpolicy":  # one row: the list is its page
        assert listing.status_code == 302
        assert client.get(listing["Location"]).status_code == 200
    else:
        assert listing.status_code == 200
    adding = client.get(reverse(f"admin:surveys_{model}_add"))
    may_add = role in (CX_LEAD, ADMIN) and model in SURVEYS_ADDABLE
    assert adding.status_code == (200 if may_add else 403)


@pytest.mark.parametrize(
    ("role", "editable"), [(EXECUTIVE, False), (SUPPORT, False), (CX_LEAD, True), (ADMIN, True)]
)
def test_campaign_and_policy_pages_are_view_only_without_change_permission(
    client, make_user, survey_rows, role, editable
):
    _, campaign = survey_rows
    client.force_login(make_user(role))
    for url in (
        reverse("admin:surveys_campaign_change", args=[campaign.pk]),
        reverse("admin:surveys_contactpolicy_change", args=[1]),
    ):
        html = client.get(url).content.decode()
        assert ('name="_save"' in html) is editable, url
    # The ledger and the answers are the services' record: view-only even for the Admin role.
    for model, pk in (
        ("invitation", campaign.invitations.get().pk),
        ("response", campaign.responses.get().pk),
    ):
        page = client.get(reverse(f"admin:surveys_{model}_change", args=[pk]))
        assert page.status_code == 200 and 'name="_save"' not in page.content.decode()


@pytest.mark.parametrize("role", [SUPPORT, EXECUTIVE])
def test_support_and_executives_cannot_post_campaign_actions(client, make_user, survey_rows, role):
    _, campaign = survey_rows
    client.force_login(make_user(role))
    for action in ("launch", "stop"):
        assert client.post(reverse(f"admin:surveys_campaign_{action}", args=[campaign.pk])).status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == "running"


# --- feedback: the support desk, and the SLA settings a CX lead keeps ----------------------------

FEEDBACK_MODELS = ("feedbackitem", "businesscalendar", "slapolicy", "category")
FEEDBACK_SETTINGS_MODELS = {"businesscalendar", "slapolicy", "category"}
# Per role: the feedback models it may add (and so change); every role with a role reads them all.
FEEDBACK_CAN_ADD: dict[str | None, set[str]] = {
    SUPPORT: {"feedbackitem"},
    CX_LEAD: FEEDBACK_SETTINGS_MODELS,
    EXECUTIVE: set(),
    ADMIN: set(FEEDBACK_MODELS),
    None: set(),
}


def test_every_feedback_model_in_the_admin_is_checked():
    registered = {
        model._meta.model_name for model in admin.site._registry if model._meta.app_label == "feedback"
    }
    assert registered == set(FEEDBACK_MODELS)


@pytest.fixture
def feedback_rows(db):
    from feedback import services
    from feedback.models import BusinessCalendar, Category, SlaPolicy, WorkingHours

    calendar = BusinessCalendar.objects.create(name="Office", time_zone="Europe/Moscow")
    WorkingHours.objects.create(calendar=calendar, weekday=0, opens_at="09:00", closes_at="18:00")
    policy = SlaPolicy.objects.create(
        name="Standard", calendar=calendar, first_response_minutes=60, resolution_minutes=240
    )
    category = Category.objects.create(name="Delivery")
    item = services.item_create(
        data={
            "kind": "complaint",
            "channel": "phone",
            "customer": CustomerFactory(),
            "category": category,
            "subject": "Late delivery",
            "description": "A week late.",
        }
    )
    return {"feedbackitem": item, "businesscalendar": calendar, "slapolicy": policy, "category": category}


@pytest.mark.parametrize("role", [*CAN_VIEW])
@pytest.mark.parametrize("model", FEEDBACK_MODELS)
def test_feedback_admin_pages_follow_the_roles(client, make_user, feedback_rows, role, model):
    client.force_login(make_user(role))
    listing = client.get(reverse(f"admin:feedback_{model}_changelist"))
    assert listing.status_code == (403 if role is None else 200)
    adding = client.get(reverse(f"admin:feedback_{model}_add"))
    assert adding.status_code == (200 if model in FEEDBACK_CAN_ADD[role] else 403)
    page = client.get(reverse(f"admin:feedback_{model}_change", args=[feedback_rows[model].pk]))
    if role is None:
        assert page.status_code == 403
    else:
        editable = model in FEEDBACK_CAN_ADD[role]
        assert page.status_code == 200 and ('name="_save"' in page.content.decode()) is editable


@pytest.mark.parametrize(
    ("role", "acts"), [(SUPPORT, True), (ADMIN, True), (CX_LEAD, False), (EXECUTIVE, False)]
)
def test_only_those_who_work_items_get_the_reply_box_and_workflow(
    client, make_user, feedback_rows, role, acts
):
    client.force_login(make_user(role))
    item = feedback_rows["feedbackitem"]
    html = client.get(reverse("admin:feedback_feedbackitem_change", args=[item.pk])).content.decode()
    assert ('name="message_body"' in html) is acts
    assert ('name="transition_to"' in html) is acts
    assert "First response" in html and "Resolution" in html  # the SLA panel is everyone's to read


@pytest.mark.parametrize("role", [CX_LEAD, EXECUTIVE])
def test_readers_cannot_post_to_an_item_or_fill_holidays_unless_they_keep_calendars(
    client, make_user, feedback_rows, role
):
    client.force_login(make_user(role))
    item = feedback_rows["feedbackitem"]
    change = client.post(
        reverse("admin:feedback_feedbackitem_change", args=[item.pk]),
        {"message_body": "hello", "transition_to": "in_progress"},
    )
    assert change.status_code == 403
    item.refresh_from_db()
    assert item.status == "new" and not item.messages.exists()
    fill = reverse(
        "admin:feedback_businesscalendar_fill_holidays", args=[feedback_rows["businesscalendar"].pk]
    )
    assert client.get(fill).status_code == (200 if role == CX_LEAD else 403)
