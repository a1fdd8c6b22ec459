"""Feedback items through /api/complaints/, as a support agent (or an integration) uses them: log,
see the due times, reply, wait on the customer, resolve; filters, attachments, and bad input.

Time is moved with time_machine where a due moment is asserted: the calendar (Mon-Fri 09-18,
Europe/Moscow, tests/feedback/conftest.py) makes business time depend on the day."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from cxplatform.roles import SUPPORT
from feedback import services
from feedback.models import BusinessCalendar, Category, FeedbackItem, SlaPolicy
from feedback.selectors import sla_outcomes
from feedback.serializers import MAX_ATTACHMENT_BYTES
from tests.factories import CustomerFactory
from tests.querycount import assert_page_size_does_not_change_query_count

pytestmark = pytest.mark.django_db
MOSCOW = ZoneInfo("Europe/Moscow")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=MOSCOW)


def local(*args) -> datetime:
    return datetime(*args, tzinfo=MOSCOW)


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture
def support(api_as):
    return api_as(SUPPORT)


@pytest.fixture
def customer(db):
    return CustomerFactory(name="Anna Smirnova")


def complaint_payload(who, **extra) -> dict:
    return {
        "kind": "complaint",
        "channel": "phone",
        "customer": who.pk,
        "subject": "Late delivery",
        "description": "The parcel is a week late.",
        **extra,
    }


def log(client, who, at: datetime = MONDAY_10, **extra) -> dict:
    with time_machine.travel(at, tick=False):
        response = client.post("/api/complaints/", complaint_payload(who, **extra), format="json")
    assert response.status_code == 201, response.content
    return response.json()


def post(client, item_id: int, action: str, payload: dict, at: datetime):
    with time_machine.travel(at, tick=False):
        return client.post(f"/api/complaints/{item_id}/{action}/", payload, format="json")


def clock(item: dict, target: str) -> dict:
    return next(c for c in item["clocks"] if c["target"] == target)


# --- the whole story ---------------------------------------------------------------------------


def test_friday_1730_complaint_is_due_monday_1230_with_its_status_page(support, customer, policy):
    item = log(support, customer, at=local(2026, 11, 27, 17, 30))  # a Friday

    assert item["status"] == "new" and item["sla_policy"] == policy.pk
    resolution = clock(item, "resolution")
    assert moment(resolution["due_at"]) == local(2026, 11, 30, 12, 30)
    assert resolution["target_seconds"] == 4 * 3600 and resolution["calendar_time_zone"] == "Europe/Moscow"
    assert moment(clock(item, "first_response")["due_at"]) == local(2026, 11, 30, 9, 30)
    token = FeedbackItem.objects.get(pk=item["id"]).status_token
    assert item["status_page_url"] == f"{settings.SITE_URL}/r/{token}/"
    assert item["customer_name"] == "Anna Smirnova"
    assert [(h["kind"], h["by"]) for h in item["history"]] == [("created", "support")]
    assert item["created_by"] == FeedbackItem.objects.get(pk=item["id"]).created_by_id


def test_reply_wait_customer_reply_resolve_through_the_api(support, customer, policy):
    item = log(support, customer)
    url = f"/api/complaints/{item['id']}/"

    noted = post(
        support, item["id"], "note", {"body": "Checking with the courier."}, local(2026, 11, 23, 10, 10)
    )
    assert noted.status_code == 201, noted.content
    assert clock(noted.json(), "first_response")["state"] == "running"  # a note answers nobody

    replied = post(
        support, item["id"], "reply", {"body": "Order number, please?"}, local(2026, 11, 23, 10, 20)
    )
    assert replied.status_code == 201, replied.content
    first = clock(replied.json(), "first_response")
    assert first["met"] and not first["breached"] and first["used_seconds"] == 20 * 60
    assert replied.json()["status"] == "in_progress"

    waiting = post(
        support,
        item["id"],
        "transition",
        {"status": "waiting", "note": "Order number asked"},
        local(2026, 11, 23, 10, 30),
    )
    assert waiting.status_code == 200, waiting.content
    resolution = clock(waiting.json(), "resolution")
    assert resolution["paused"] and resolution["due_at"] is None and resolution["used_seconds"] == 30 * 60

    with time_machine.travel(local(2026, 11, 23, 17, 0), tick=False):
        later = support.get(url).json()
    assert clock(later, "resolution")["used_seconds"] == 30 * 60  # paused: no business time counted
    assert clock(later, "resolution")["paused_seconds"] == 6.5 * 3600

    back = post(support, item["id"], "customer-message", {"body": "It is 12345"}, local(2026, 11, 24, 9, 0))
    assert back.status_code == 201, back.content
    assert back.json()["status"] == "in_progress"
    assert moment(clock(back.json(), "resolution")["due_at"]) == local(2026, 11, 24, 12, 30)

    done = post(
        support,
        item["id"],
        "transition",
        {"status": "resolved", "note": "Refunded"},
        local(2026, 11, 24, 10, 0),
    )
    assert done.status_code == 200, done.content
    body = done.json()
    assert body["status"] == "resolved" and body["resolution_note"] == "Refunded"
    assert clock(body, "resolution")["met"]
    history = [(h["kind"], h["new_value"] or h["body"]) for h in body["history"]]
    assert history == [
        ("created", ""),
        ("note", "Checking with the courier."),
        ("reply", "Order number, please?"),
        ("change", "in_progress"),
        ("change", "waiting"),
        ("customer", "It is 12345"),
        ("change", "in_progress"),
        ("change", "resolved"),
    ]
    assert [m["kind"] for m in body["messages"]] == ["note", "reply", "customer"]
    assert body["history"][2]["by"] == "support" and body["history"][0]["by"] == "support"


def test_a_clock_past_its_target_reads_breached_and_by_how_much(support, customer, policy):
    item = log(support, customer)
    with time_machine.travel(local(2026, 11, 23, 11, 15), tick=False):
        late = support.get(f"/api/complaints/{item['id']}/").json()
    first = clock(late, "first_response")
    assert first["breached"] and not first["met"]
    assert (first["overdue_seconds"], first["remaining_seconds"]) == (15 * 60, 0)


# --- bad input: a 400 naming the field ---------------------------------------------------------


def test_a_refused_transition_is_a_400_naming_status(support, customer, policy):
    item = log(support, customer)
    response = post(support, item["id"], "transition", {"status": "closed"}, MONDAY_10)
    assert response.status_code == 400
    assert "status" in response.json() and "cannot become closed" in response.json()["status"][0]
    unknown = post(support, item["id"], "transition", {"status": "done"}, MONDAY_10)
    assert unknown.status_code == 400 and "status" in unknown.json()
    assert FeedbackItem.objects.get(pk=item["id"]).status == "new"


def test_resolution_without_a_note_is_a_400_naming_note(support, customer, policy):
    item = log(support, customer)
    response = post(support, item["id"], "transition", {"status": "resolved"}, MONDAY_10)
    assert response.status_code == 400
    assert list(response.json()) == ["note"]
    assert FeedbackItem.objects.get(pk=item["id"]).status == "new"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channel": "pigeon"}, "channel"),
        ({"customer": 999999}, "customer"),
        ({"customer": None}, "customer"),  # nobody to answer: no customer and no author
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"review_rating": 2}, "review_source"),  # only reviews have a rating
        ({"subject": ""}, "subject"),
        ({"status": "resolved"}, "status"),  # only through transition/
        ({"bogus": 1}, None),  # unknown fields are ignored, as everywhere in the API
    ],
)
def test_bad_item_input_is_a_400_naming_the_field(support, customer, policy, change, field):
    response = support.post("/api/complaints/", complaint_payload(customer, **change), format="json")
    if field is None:
        assert response.status_code == 201, response.content
        return
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not FeedbackItem.objects.exists()


def test_an_empty_reply_is_a_400_naming_body(support, customer, policy):
    item = log(support, customer)
    for payload in ({"body": "   "}, {}):
        response = post(support, item["id"], "reply", payload, MONDAY_10)
        assert response.status_code == 400 and "body" in response.json(), response.content


def test_a_customer_message_on_a_closed_item_is_refused(support, customer, policy):
    item = log(support, customer)
    post(support, item["id"], "transition", {"status": "resolved", "note": "Fixed"}, MONDAY_10)
    post(support, item["id"], "transition", {"status": "closed"}, MONDAY_10)
    response = post(support, item["id"], "customer-message", {"body": "Hello again"}, MONDAY_10)
    assert response.status_code == 400 and "item" in response.json()


def test_actions_on_a_missing_item_are_404(support, policy):
    assert post(support, 424242, "reply", {"body": "Hi"}, MONDAY_10).status_code == 404
    assert (
        post(support, 424242, "transition", {"status": "resolved", "note": "x"}, MONDAY_10).status_code == 404
    )
    assert post(support, "abc", "note", {"body": "Hi"}, MONDAY_10).status_code == 404


# --- editing -----------------------------------------------------------------------------------


def test_patch_records_priority_and_assignee_and_follows_a_matching_policy(
    support, customer, policy, make_user
):
    urgent = SlaPolicy.objects.create(
        name="Urgent",
        position=1,
        calendar=policy.calendar,
        priorities=["urgent"],
        first_response_minutes=15,
        resolution_minutes=60,
    )
    agent = make_user(SUPPORT, username="agent")
    item = log(support, customer)

    with time_machine.travel(local(2026, 11, 23, 10, 30), tick=False):
        response = support.patch(
            f"/api/complaints/{item['id']}/", {"priority": "urgent", "assignee": agent.pk}, format="json"
        )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["sla_policy"] == urgent.pk and body["assignee"] == agent.pk
    assert clock(body, "resolution")["target_seconds"] == 3600
    changed = {h["field"]: h for h in body["history"] if h["kind"] == "change" and h["field"] != "status"}
    assert changed["priority"]["new_value"] == "urgent" and changed["assignee"]["new_value"] == "agent"
    assert changed["sla"]["new_value"].startswith("Urgent")


def test_the_status_moves_only_through_transition(support, customer, policy):
    item = log(support, customer)
    url = f"/api/complaints/{item['id']}/"
    refused = support.patch(url, {"status": "resolved"}, format="json")
    assert refused.status_code == 400 and "transition/" in refused.json()["status"][0]
    # A representation sent back whole, with the status it had, is fine.
    fields = ("kind", "channel", "customer", "subject", "description", "status")
    resent = support.put(
        url, {name: item[name] for name in fields} | {"subject": "Late parcel"}, format="json"
    )
    assert resent.status_code == 200, resent.content
    assert (resent.json()["status"], resent.json()["subject"]) == ("new", "Late parcel")


def test_a_public_review_answer_is_recorded_with_its_moment(support, policy):
    review = {
        "kind": "review",
        "channel": "review_site",
        "subject": "Two stars",
        "description": "Slow.",
        "review_source": "Yandex Maps",
        "review_rating": 2,
        "author_name": "Guest",
    }
    created = support.post("/api/complaints/", review, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["negative_review"] and created.json()["public_answered_at"] is None
    answered = support.patch(
        f"/api/complaints/{created.json()['id']}/", {"public_answer": "We are sorry."}, format="json"
    )
    assert answered.status_code == 200 and answered.json()["public_answered_at"]


# --- lists and filters -------------------------------------------------------------------------


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_filters_select_the_items_they_name(support, customer, policy, make_user):
    agent = make_user(SUPPORT, username="agent")
    billing = Category.objects.create(name="Billing")
    old = log(support, customer, at=local(2026, 11, 16, 10, 0), subject="Double charge", category=billing.pk)
    mine = log(support, customer, assignee=agent.pk, priority="high", channel="email")
    waiting = log(support, customer, subject="Broken box")
    post(support, waiting["id"], "transition", {"status": "waiting", "note": "Photo?"}, MONDAY_10)
    review_base = {"kind": "review", "channel": "review_site", "review_source": "Google", "author_name": "X"}
    bad = log(support, customer, **review_base, review_rating=1, customer=None)
    good = log(support, customer, **review_base, review_rating=5, customer=None)

    def listed(query: str) -> set[int]:
        with time_machine.travel(local(2026, 11, 23, 12, 0), tick=False):
            return ids(support.get(f"/api/complaints/?{query}"))

    assert listed("kind=review") == {bad["id"], good["id"]}
    assert listed("kind=review&kind=complaint") == {
        old["id"],
        mine["id"],
        waiting["id"],
        bad["id"],
        good["id"],
    }
    assert listed("status=waiting") == {waiting["id"]}
    assert listed("status=waiting&status=new") == {
        old["id"],
        mine["id"],
        waiting["id"],
        bad["id"],
        good["id"],
    }
    assert listed("priority=high") == {mine["id"]}
    assert listed("channel=email") == {mine["id"]}
    assert listed(f"category={billing.pk}") == {old["id"]}
    assert listed(f"assignee={agent.pk}") == {mine["id"]}
    assert listed(f"customer={customer.pk}") == {old["id"], mine["id"], waiting["id"]}
    assert listed(f"sla_policy={policy.pk}") == {old["id"], mine["id"], waiting["id"], bad["id"], good["id"]}
    assert listed("negative=true") == {bad["id"]}
    assert bad["id"] not in listed("negative=false") and good["id"] in listed("negative=false")
    # At 12:00 the first responses logged at 10:00 are an hour late; the old one long since.
    assert listed("breached=true") == {old["id"], mine["id"], bad["id"], good["id"]}
    assert listed("breached=false") == {waiting["id"]}  # paused at 10:00, before its first hour ran out
    assert listed("created_before=2026-11-20T00:00:00%2B03:00") == {old["id"]}
    assert old["id"] not in listed("created_after=2026-11-20T00:00:00%2B03:00")
    assert listed("search=double") == {old["id"]}
    ordered = support.get("/api/complaints/?ordering=-priority_rank").json()["results"]
    assert ordered[0]["id"] == mine["id"]


@pytest.mark.parametrize(
    "query", ["breached=maybe", "status=lost", "created_after=yesterday", "assignee=999999"]
)
def test_bad_filter_values_are_a_400_naming_the_filter(support, policy, query):
    response = support.get(f"/api/complaints/?{query}")
    assert response.status_code == 400, response.content
    assert query.split("=")[0] in response.json()


def test_review_counts_follow_the_list_filters(support, policy):
    def review(rating, answer=""):
        return services.item_create(
            data={
                "kind": "review",
                "channel": "review_site",
                "subject": "Review",
                "description": "...",
                "review_source": "Google",
                "review_rating": rating,
                "public_answer": answer,
            }
        )

    review(1, "Sorry, we will call you.")
    review(2)
    review(5)
    services.item_create(
        data={"kind": "complaint", "channel": "phone", "author_name": "X", "subject": "S", "description": "D"}
    )
    counts = support.get("/api/complaints/review-counts/")
    assert counts.status_code == 200, counts.content
    assert counts.json() == {"reviews": 3, "negative": 2, "negative_answered": 1, "negative_unanswered": 1}
    future = (datetime.now(MOSCOW) + timedelta(days=1)).isoformat().replace("+", "%2B")
    assert support.get(f"/api/complaints/review-counts/?created_after={future}").json()["reviews"] == 0


def test_list_query_count_does_not_grow_with_the_page(support, policy, make_user):
    """Every row has clocks (one paused, with segments), a customer, an assignee, a category."""
    agent = make_user(SUPPORT, username="agent")
    category = Category.objects.create(name="Delivery")
    always = BusinessCalendar.objects.create(name="24/7", always_open=True)
    SlaPolicy.objects.create(
        name="Chat",
        position=1,
        calendar=always,
        channels=["chat_bot"],
        first_response_minutes=5,
        resolution_minutes=60,
    )
    for n in range(21):
        item = services.item_create(
            data={
                "kind": "complaint",
                "channel": "chat_bot" if n % 2 else "phone",
                "customer": CustomerFactory(),
                "subject": f"#{n}",
                "description": "...",
                "assignee": agent,
                "category": category,
            }
        )
        if n % 3 == 0:
            services.item_transition(item_id=item.pk, to="waiting", note="Asked for a photo")
    assert_page_size_does_not_change_query_count(support, "/api/complaints/")
    assert_page_size_does_not_change_query_count(support, "/api/complaints/?breached=false&kind=complaint")


# --- attachments -------------------------------------------------------------------------------


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_attach_a_file_list_it_and_download_it(support, customer, policy, media):
    item = log(support, customer)
    upload = SimpleUploadedFile("receipt.pdf", b"%PDF-1.4 receipt", content_type="application/pdf")
    response = support.post(
        f"/api/complaints/{item['id']}/attachments/", {"file": upload}, format="multipart"
    )
    assert response.status_code == 201, response.content
    [attachment] = response.json()["attachments"]
    assert (attachment["name"], attachment["size"]) == ("receipt.pdf", 16)

    download = support.get(attachment["download_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.4 receipt"
    assert 'filename="receipt.pdf"' in download["Content-Disposition"]
    other = log(support, customer)
    assert support.get(f"/api/complaints/{other['id']}/attachments/{attachment['id']}/").status_code == 404


def test_an_attachment_over_10_mb_is_a_400_naming_file(support, customer, policy, media):
    item = log(support, customer)
    big = SimpleUploadedFile("video.mp4", b"x" * (MAX_ATTACHMENT_BYTES + 1), content_type="video/mp4")
    response = support.post(f"/api/complaints/{item['id']}/attachments/", {"file": big}, format="multipart")
    assert response.status_code == 400
    assert "10 MB" in response.json()["file"][0]
    missing = support.post(f"/api/complaints/{item['id']}/attachments/", {}, format="multipart")
    assert missing.status_code == 400 and "file" in missing.json()
    assert not list(media.rglob("*.mp4"))


# --- reporting hooks ---------------------------------------------------------------------------


def test_sla_outcomes_group_met_clocks_in_one_query(policy, customer, django_assert_num_queries):
    def replied(channel: str, minutes: int) -> None:
        item = services.item_create(
            data={**complaint_payload(customer, channel=channel), "customer": customer}, now=MONDAY_10
        )
        services.item_reply(item_id=item.pk, body="Hello", now=MONDAY_10 + timedelta(minutes=minutes))

    replied("phone", 30)
    replied("phone", 90)  # an hour's target: late
    replied("email", 10)
    with django_assert_num_queries(1):
        rows = list(sla_outcomes(target="first_response", by="channel"))
    assert [(r["group"], r["total"], r["breached"], float(r["average_business_seconds"])) for r in rows] == [
        ("email", 1, 0, 600.0),
        ("phone", 2, 1, 3600.0),
    ]
    assert [r["total"] for r in sla_outcomes(target="first_response", by="month")] == [3]
    assert list(sla_outcomes(target="first_response", by="policy", since=MONDAY_10 + timedelta(days=1))) == []
