"""The roles of DESIGN.md, enforced on every endpoint of the API (customers, surveys, feedback).

One table of expectations per role: for each endpoint, the actions that succeed. Every other action
of that endpoint must be refused with a 403 and change nothing. Requests carry valid payloads, so
"allowed" means a 2xx and never a 400 that would hide a missing permission.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

import cxplatform.urls  # noqa: F401  (registers every app's endpoints on the router)
from customers.models import ClientType, Customer, Event, Segment, SegmentMembership, Touchpoint
from cxplatform.api import router
from cxplatform.roles import ADMIN, CX_LEAD, EXECUTIVE, SUPPORT
from feedback import services as feedback_services
from feedback.models import (
    Attachment,
    BusinessCalendar,
    Category,
    ClockSegment,
    FeedbackItem,
    Holiday,
    ItemChange,
    ItemMessage,
    SlaClock,
    SlaPolicy,
    WorkingHours,
)
from surveys.models import Answer, Campaign, Invitation, InvitationStatus, Question, Response, Survey
from surveys.services import campaign_launch, survey_from_template
from tests.factories import (
    CustomerFactory,
    EventFactory,
    SegmentFactory,
    TouchpointFactory,
    active_survey,
    email_campaign,
)

pytestmark = pytest.mark.django_db

CRUD = ("list", "retrieve", "create", "update", "partial_update", "delete")
# What each endpoint offers. The event stream is append-only through the API: no update.
ENDPOINT_ACTIONS: dict[str, tuple[str, ...]] = {
    "customers": (*CRUD, "timeline", "import", "export"),
    "events": ("list", "retrieve", "create", "delete", "import", "export"),
    "segments": (*CRUD, "members", "history", "preview", "refresh"),
    "touchpoints": CRUD,
    "client-types": CRUD,
    "surveys": (*CRUD, "from-template"),
    "campaigns": (*CRUD, "launch", "dry-run", "stop", "funnel"),
    # The ledger is written by the sending machinery; through the API only a bounce is reported.
    "invitations": ("list", "retrieve", "bounce"),
    "responses": ("list", "retrieve"),
    # Items of every kind; the workflow and the conversation are POSTs on the item.
    "complaints": (
        *CRUD,
        *("transition", "reply", "note", "customer-message", "attachments", "review-counts"),
        "attachments/(?P<attachment_id>[0-9]+)",  # download one attachment
    ),
    "sla-policies": CRUD,
    "calendars": (*CRUD, "fill-holidays"),
    "feedback-categories": CRUD,
}
DOWNLOAD = "attachments/(?P<attachment_id>[0-9]+)"
READ = {"list", "retrieve"}
SEGMENT_READS = READ | {"members", "history", "preview"}
# A dry run changes nothing: whoever may read a campaign may see its reach.
CAMPAIGN_READS = READ | {"dry-run", "funnel"}
SURVEYS_READ_ONLY = {"surveys": READ, "campaigns": CAMPAIGN_READS, "invitations": READ, "responses": READ}
COMPLAINT_READS = READ | {"review-counts", DOWNLOAD}
FEEDBACK_SETTINGS_READ_ONLY = {"sla-policies": READ, "calendars": READ, "feedback-categories": READ}


def everything() -> dict[str, set[str]]:
    return {endpoint: set(actions) for endpoint, actions in ENDPOINT_ACTIONS.items()}


ALLOWED: dict[str, dict[str, set[str]]] = {
    SUPPORT: {
        "customers": READ | {"create", "timeline", "export"},
        "events": READ | {"create", "import", "export"},
        "segments": SEGMENT_READS,
        "touchpoints": READ,
        "client-types": READ,
        **SURVEYS_READ_ONLY,
        # Support works complaints in full; SLA settings are a CX lead's.
        "complaints": set(ENDPOINT_ACTIONS["complaints"]),
        **FEEDBACK_SETTINGS_READ_ONLY,
    },
    CX_LEAD: {**everything(), "complaints": COMPLAINT_READS},
    EXECUTIVE: {
        "customers": READ | {"timeline", "export"},
        "events": READ | {"export"},
        "segments": SEGMENT_READS,
        "touchpoints": READ,
        "client-types": READ,
        **SURVEYS_READ_ONLY,
        "complaints": COMPLAINT_READS,
        **FEEDBACK_SETTINGS_READ_ONLY,
    },
    ADMIN: everything(),
}

ALL_CALLS = [(endpoint, action) for endpoint, actions in ENDPOINT_ACTIONS.items() for action in actions]
RULES = {"match": "all", "rules": [{"field": "purchase_count", "op": "gte", "value": 1}]}


@dataclass
class Objects:
    """One existing row per endpoint, each free to be deleted (nothing protects it)."""

    customer: Customer
    event: Event
    segment: Segment
    touchpoint: Touchpoint
    client_type: ClientType
    survey: Survey  # a draft no campaign uses
    campaign: Campaign  # a draft, ready to launch
    launched: Campaign  # running: the one to stop
    invitation: Invitation  # sent, by another (launched) campaign
    response: Response
    complaint: FeedbackItem  # logged by phone from an unknown caller, with an attachment
    attachment: Attachment
    sla_policy: SlaPolicy  # no item falls under it
    calendar: BusinessCalendar  # no policy uses it
    feedback_category: Category

    def pk(self, endpoint: str) -> int:
        singular = {"sla-policies": "sla_policy", "feedback-categories": "feedback_category"}
        return getattr(self, singular.get(endpoint) or endpoint.rstrip("s").replace("-", "_")).pk


def feedback_objects() -> dict[str, Any]:
    in_use = BusinessCalendar.objects.create(name="Always open", always_open=True)
    SlaPolicy.objects.create(
        name="Standard", calendar=in_use, first_response_minutes=60, resolution_minutes=240
    )
    # No customer: the customer rows above stay free to delete.
    complaint = feedback_services.item_create(
        data={
            "kind": "complaint",
            "channel": "phone",
            "author_name": "Caller",
            "subject": "Noisy line",
            "description": "Could not hear the operator.",
        }
    )
    attachment = Attachment(item=complaint, name="call.txt", size=5)
    attachment.file.save("call.txt", SimpleUploadedFile("call.txt", b"hello"), save=False)
    attachment.save()
    return {
        "complaint": complaint,
        "attachment": attachment,
        "sla_policy": SlaPolicy.objects.create(
            name="Spare", position=200, calendar=in_use, first_response_minutes=30, resolution_minutes=60
        ),
        "calendar": BusinessCalendar.objects.create(name="Spare calendar", time_zone="Europe/Moscow"),
        "feedback_category": Category.objects.create(name="Connection"),
    }


@pytest.fixture
def objects(db, settings, tmp_path) -> Objects:
    settings.MEDIA_ROOT = tmp_path  # attachments are written here
    customer = CustomerFactory(name="Anna Smirnova")
    segment = SegmentFactory(rules=RULES)
    SegmentMembership.objects.create(segment=segment, customer=customer)
    survey = active_survey()
    launched = campaign_launch(campaign=email_campaign(survey=survey, name="Autumn NPS"))
    invitation = Invitation.objects.create(
        campaign=launched,
        customer=customer,
        language="en",
        status=InvitationStatus.SENT,
        sent_at=timezone.now(),
        expires_at=timezone.now() + timedelta(days=30),
    )
    return Objects(
        customer=customer,
        event=EventFactory(customer=customer),
        segment=segment,
        touchpoint=TouchpointFactory(),
        client_type=ClientType.objects.create(slug="chatty", name="Chatty"),
        survey=survey_from_template(template="ces", name="Effort after the call"),
        campaign=email_campaign(survey=survey, name="Winter NPS"),
        launched=launched,
        invitation=invitation,
        response=Response.objects.create(
            campaign=launched, survey=survey, invitation=invitation, customer=customer, language="en"
        ),
        **feedback_objects(),
    )


def create_payload(endpoint: str, objs: Objects) -> dict[str, Any]:
    return {
        "customers": {"name": "Olga Petrova", "email": "olga@example.com", "client_type": "loyal"},
        "events": {"customer": objs.customer.pk, "kind": "purchase", "amount": "19.90"},
        "segments": {"name": "Buyers", "rules": RULES},
        "touchpoints": {"name": "Flagship store", "kind": "store", "journey_stage": "purchase"},
        "client-types": {"slug": "quiet", "name": "Quiet", "guidance": "Rarely writes; call instead."},
        "surveys": {"name": "Delivery CSAT", "questions": [{"kind": "csat", "text": {"en": "How was it?"}}]},
        "campaigns": {"name": "Spring NPS", "survey": objs.campaign.survey_id, "everyone": True},
        "complaints": {
            "kind": "request",
            "channel": "email",
            "author_name": "Olga",
            "author_contact": "olga@example.com",
            "subject": "Opening hours",
            "description": "Are you open on Sunday?",
        },
        "sla-policies": {
            "name": "Premium",
            "calendar": objs.complaint.sla_policy.calendar_id,
            "service_classes": ["premium"],
            "first_response_minutes": 15,
            "resolution_minutes": 120,
        },
        "calendars": {
            "name": "Night shift",
            "time_zone": "UTC",
            "holidays": [],
            "working_hours": [{"weekday": 0, "opens_at": "22:00", "closes_at": "00:00"}],
        },
        "feedback-categories": {"name": "Billing", "description": "Invoices and refunds"},
    }[endpoint]


def partial_payload(endpoint: str) -> dict[str, Any]:
    return {"complaints": {"subject": "Renamed"}}.get(endpoint, {"name": "Renamed"})


def request(client: APIClient, endpoint: str, action: str, objs: Objects):
    """Make the call for one (endpoint, action) with a valid payload; return the response."""
    base = f"/api/{endpoint}/"
    detail = f"{base}{objs.pk(endpoint)}/"
    if action == "list":
        return client.get(base)
    if action == "retrieve":
        return client.get(detail)
    if action == "create":
        return client.post(base, create_payload(endpoint, objs), format="json")
    if action == "update":
        return client.put(detail, create_payload(endpoint, objs), format="json")
    if action == "partial_update":
        return client.patch(detail, partial_payload(endpoint), format="json")
    if action == "delete":
        return client.delete(detail)
    if action in ("timeline", "members", "history", "funnel"):
        return client.get(f"{detail}{action}/")
    if action == "stop":  # only a launched campaign can be stopped; a draft is deleted
        return client.post(f"{base}{objs.launched.pk}/stop/")
    if action in ("launch", "dry-run"):
        return client.post(f"{detail}{action}/")
    if action == "bounce":
        return client.post(f"{detail}bounce/", {"reason": "550 mailbox unavailable"}, format="json")
    if action == "from-template":
        return client.post(f"{base}from-template/", {"template": "csat", "name": "CSAT"}, format="json")
    if action == "preview":
        return client.post(f"{base}preview/", {"rules": RULES}, format="json")
    if action == "refresh":
        return client.post(f"{detail}refresh/")
    if action == "import":
        content = {
            "customers": "external_id,name\nCSV-1,Olga Petrova\n",
            "events": f"customer_external_id,kind,external_id\n{objs.customer.external_id},visit,csv-1\n",
        }[endpoint]
        upload = SimpleUploadedFile("import.csv", content.encode(), content_type="text/csv")
        return client.post(f"{base}import/", {"file": upload}, format="multipart")
    if action == "export":
        return client.get(f"{base}export/")
    if action == "transition":
        return client.post(f"{detail}transition/", {"status": "in_progress"}, format="json")
    if action in ("reply", "note", "customer-message"):
        return client.post(f"{detail}{action}/", {"body": "Thank you, we are on it."}, format="json")
    if action == "attachments":
        upload = SimpleUploadedFile("photo.jpg", b"\xff\xd8 a photo", content_type="image/jpeg")
        return client.post(f"{detail}attachments/", {"file": upload}, format="multipart")
    if action == DOWNLOAD:
        return client.get(f"{detail}attachments/{objs.attachment.pk}/")
    if action == "review-counts":
        return client.get(f"{base}review-counts/")
    if action == "fill-holidays":
        return client.post(f"{detail}fill-holidays/", {"country": "RU", "years": [2026]}, format="json")
    raise AssertionError(f"no request defined for {endpoint} {action}")


def database_state() -> dict[str, list[dict]]:
    models = (
        *(Customer, Event, Segment, SegmentMembership, Touchpoint, ClientType),
        *(Survey, Question, Campaign, Invitation, Response, Answer),
        *(FeedbackItem, ItemChange, ItemMessage, Attachment, SlaClock, ClockSegment),
        *(SlaPolicy, BusinessCalendar, WorkingHours, Holiday, Category),
    )
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in models}


def token_client(user: User) -> APIClient:
    """A client authenticating as integrations do: the Authorization header, no session."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


MATRIX = [
    pytest.param(role, endpoint, action, action in ALLOWED[role][endpoint], id=f"{role}-{endpoint}-{action}")
    for role in ALLOWED
    for endpoint, action in ALL_CALLS
]


@pytest.mark.parametrize(("role", "endpoint", "action", "allowed"), MATRIX)
def test_role_matrix(make_user, objects, role, endpoint, action, allowed):
    client = token_client(make_user(role))
    before = database_state()

    response = request(client, endpoint, action, objects)

    if allowed:
        assert 200 <= response.status_code < 300, (response.status_code, response.content)
    else:
        assert response.status_code == 403, (response.status_code, response.content)
        assert "detail" in response.json()
        assert database_state() == before, "a refused request changed data"


def test_matrix_covers_every_role_and_endpoint():
    # A new endpoint or role must be added to the table, not silently skipped.
    assert set(ALLOWED) == {SUPPORT, CX_LEAD, EXECUTIVE, ADMIN}
    for role, endpoints in ALLOWED.items():
        assert set(endpoints) == set(ENDPOINT_ACTIONS), role
        for endpoint, actions in endpoints.items():
            assert actions <= set(ENDPOINT_ACTIONS[endpoint]), (role, endpoint)


def test_matrix_covers_every_endpoint_and_action():
    # An endpoint or extra action added to the API fails here until the table has it.
    offered = {}
    for prefix, viewset, _ in router.registry:
        standard = [name for name in CRUD if hasattr(viewset, name.replace("delete", "destroy"))]
        offered[prefix] = {*standard, *(action.url_path for action in viewset.get_extra_actions())}
    assert offered == {endpoint: set(actions) for endpoint, actions in ENDPOINT_ACTIONS.items()}


@pytest.mark.parametrize(("endpoint", "action"), ALL_CALLS, ids=[f"{e}-{a}" for e, a in ALL_CALLS])
def test_anonymous_gets_401_everywhere(objects, endpoint, action):
    response = request(APIClient(), endpoint, action, objects)
    assert response.status_code == 401, (response.status_code, response.content)
    assert response["WWW-Authenticate"] == "Token"
    assert "detail" in response.json()


@pytest.mark.parametrize(("endpoint", "action"), ALL_CALLS, ids=[f"{e}-{a}" for e, a in ALL_CALLS])
def test_user_without_a_role_gets_403_everywhere(make_user, objects, endpoint, action):
    response = request(token_client(make_user(None)), endpoint, action, objects)
    assert response.status_code == 403, (response.status_code, response.content)


def test_a_bad_token_is_401(objects):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get("/api/customers/").status_code == 401


def test_token_from_login_carries_the_role(make_user, objects):
    make_user(SUPPORT)
    login = APIClient().post(
        "/api/auth/token/", {"username": "support", "password": "correct-horse-battery"}, format="json"
    )
    assert login.status_code == 200, login.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {login.json()['token']}")

    assert client.get("/api/customers/").json()["count"] == 1
    created = client.post("/api/customers/", {"name": "Pavel"}, format="json")
    assert created.status_code == 201, created.content
    assert client.delete(f"/api/customers/{created.json()['id']}/").status_code == 403
    assert Customer.objects.filter(name="Pavel").exists()


def test_events_cannot_be_edited_through_the_api(make_user, objects):
    # Even the Admin role: the stream records what happened; corrections go through the admin.
    client = token_client(make_user(ADMIN))
    url = f"/api/events/{objects.event.pk}/"
    assert client.patch(url, {"kind": "visit"}, format="json").status_code == 405
    assert client.put(url, {"kind": "visit"}, format="json").status_code == 405
