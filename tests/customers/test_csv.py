"""CSV import and export of customers and events, through the API and the admin."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from customers.models import Customer, Event, LifecycleStageChange
from tests.factories import CustomerFactory, EventFactory, TouchpointFactory

pytestmark = pytest.mark.django_db

HEADER = "external_id,name,email,client_type,lifecycle_stage,survey_consent,attr.city\n"
MIXED = (
    HEADER
    + "C-1,Anna,anna@example.com,loyal,interest,yes,Kazan\n"  # line 2: new
    + "C-2,Boris,boris@example.com,grumpy,interest,no,\n"  # line 3: unknown client type
    + "C-3,Vera,not-an-email,,,1,\n"  # line 4: bad email
    + ",Gleb,gleb@example.com,,,,\n"  # line 5: no external id
    + "C-5,Dina,dina@example.com,,married,,\n"  # line 6: no such stage
    + "OLD-1,Old customer renamed,,,purchase,true,Moscow\n"  # line 7: known customer, updated
    + "C-1,Anna again,,,,,\n"  # line 8: repeats line 2
)


def upload(content: str | bytes, name: str = "customers.csv") -> SimpleUploadedFile:
    data = content.encode() if isinstance(content, str) else content
    return SimpleUploadedFile(name, data, content_type="text/csv")


def import_csv(client, content, *, resource: str = "customers", dry_run: bool = False):
    body = {"file": upload(content), **({"dry_run": "true"} if dry_run else {})}
    return client.post(f"/api/{resource}/import/", body, format="multipart")


def export_csv(client, url: str) -> tuple[object, list[dict]]:
    response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return response, list(csv.DictReader(io.StringIO(text)))


def errors_of(report: dict) -> set[tuple[int, str]]:
    return {(e["line"], e["field"]) for e in report["errors"]}


def test_good_rows_are_kept_and_bad_rows_reported_by_line_and_field(lead_api):
    old = CustomerFactory(external_id="OLD-1", name="Old customer", email="old@example.com")
    response = import_csv(lead_api, MIXED)
    assert response.status_code == 200, response.json()
    report = response.json()
    assert (report["created"], report["updated"], report["unchanged"]) == (1, 1, 0)
    assert (report["rejected"], report["total_rows"], report["dry_run"]) == (5, 7, False)
    assert errors_of(report) == {
        (3, "client_type"),
        (4, "email"),
        (5, "external_id"),
        (6, "lifecycle_stage"),
        (8, "external_id"),
    }
    messages = {(e["line"], e["field"]): e["message"] for e in report["errors"]}
    assert "grumpy" in messages[(3, "client_type")]
    assert "line 2" in messages[(8, "external_id")]
    # The same message the API gives for the same value.
    api = lead_api.post("/api/customers/", {"name": "X", "email": "not-an-email"}, format="json").json()
    assert messages[(4, "email")] == api["email"][0]

    anna = Customer.objects.get(external_id="C-1")
    assert (anna.name, anna.client_type.slug, anna.lifecycle_stage, anna.survey_consent) == (
        "Anna",
        "loyal",
        "interest",
        True,
    )
    assert anna.attributes == {"city": "Kazan"}
    old.refresh_from_db()
    # Blank cells in defaulted columns keep the stored value; a blank email is a blank email.
    assert (old.name, old.email, old.lifecycle_stage, old.attributes["city"]) == (
        "Old customer renamed",
        "",
        "purchase",
        "Moscow",
    )
    assert set(Customer.objects.values_list("external_id", flat=True)) == {"C-1", "OLD-1"}
    stages = LifecycleStageChange.objects.filter(customer=old).values_list("from_stage", "to_stage")
    assert list(stages) == [("attraction", "purchase")]
    assert LifecycleStageChange.objects.filter(customer=anna, changed_by__username="cx_lead").exists()


def test_importing_the_same_file_again_changes_nothing(lead_api):
    CustomerFactory(external_id="OLD-1", attributes={"plan": "pro"})
    assert import_csv(lead_api, MIXED).json()["created"] == 1
    before = {c.external_id: (c.updated_at, c.attributes) for c in Customer.objects.all()}
    changes, events = LifecycleStageChange.objects.count(), Event.objects.count()

    report = import_csv(lead_api, MIXED).json()
    assert (report["created"], report["updated"], report["unchanged"], report["rejected"]) == (0, 0, 2, 5)
    assert {c.external_id: (c.updated_at, c.attributes) for c in Customer.objects.all()} == before
    assert before["OLD-1"][1] == {"plan": "pro", "city": "Moscow"}  # attr.* columns merge, never drop
    assert (LifecycleStageChange.objects.count(), Event.objects.count()) == (changes, events)


def test_dry_run_reports_the_same_without_writing(lead_api):
    CustomerFactory(external_id="OLD-1")
    report = import_csv(lead_api, MIXED, dry_run=True).json()
    assert (report["created"], report["updated"], report["rejected"], report["dry_run"]) == (1, 1, 5, True)
    assert len(report["errors"]) == 5
    assert not Customer.objects.filter(external_id="C-1").exists()
    assert Customer.objects.get(external_id="OLD-1").name != "Old customer renamed"


def test_export_reimports_unchanged_and_restores_deleted_customers(lead_api):
    CustomerFactory(
        external_id="R-1",
        name="Анна Петрова",
        phone="+7 900 111-22-33",
        loyal=True,
        lifecycle_stage="loyalty",
        attributes={"city": "Казань", "visits": 3, "newsletter": True, "zip": "007", "tags": ["a", "b"]},
    )
    CustomerFactory(external_id="R-2", name="=HYPERLINK(1)", lifecycle_stage="loyalty", company="Acme, Inc.")
    CustomerFactory(external_id="R-3", lifecycle_stage="attraction")  # filtered out below
    response, rows = export_csv(lead_api, "/api/customers/export/?lifecycle_stage=loyalty")
    assert response["Content-Type"].startswith("text/csv")
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="customers-{today}.csv"'
    by_id = {r["external_id"]: r for r in rows}
    assert sorted(by_id) == ["R-1", "R-2"]
    assert by_id["R-1"]["attr.visits"] == "3" and by_id["R-2"]["attr.city"] == ""
    assert by_id["R-1"]["phone"] == "+7 900 111-22-33"
    assert by_id["R-2"]["name"] == "'=HYPERLINK(1)"  # not run as a formula when opened in a spreadsheet
    text = b"".join(lead_api.get("/api/customers/export/?lifecycle_stage=loyalty").streaming_content)

    stored = {c.external_id: c for c in Customer.objects.all()}
    report = import_csv(lead_api, text).json()
    assert (report["unchanged"], report["created"], report["updated"], report["errors"]) == (2, 0, 0, [])

    Customer.objects.filter(external_id__in=["R-1", "R-2"]).delete()
    assert import_csv(lead_api, text).json()["created"] == 2
    fields = ["name", "phone", "company", "client_type_id", "lifecycle_stage", "survey_consent", "language"]
    for external_id in ["R-1", "R-2"]:
        restored = Customer.objects.get(external_id=external_id)
        assert [getattr(restored, f) for f in fields] == [getattr(stored[external_id], f) for f in fields]
    assert Customer.objects.get(external_id="R-1").attributes == {
        "city": "Казань",
        "visits": 3,
        "newsletter": True,
        "zip": "007",
        "tags": '["a", "b"]',  # a list has no CSV form; it comes back as its JSON text
    }
    assert Customer.objects.get(external_id="R-2").name == "=HYPERLINK(1)"


def test_excel_files_in_windows_1251_with_semicolons(lead_api):
    content = 'external_id;name;company;attr.город\r\nRU-1;Иван Иванов;"ООО ""Ромашка""; и ко";Казань\r\n'
    report = import_csv(lead_api, content.encode("cp1251")).json()
    assert (report["created"], report["errors"]) == (1, [])
    ivan = Customer.objects.get(external_id="RU-1")
    assert (ivan.name, ivan.company, ivan.attributes) == (
        "Иван Иванов",
        'ООО "Ромашка"; и ко',
        {"город": "Казань"},
    )


def test_utf8_with_bom_tabs_and_case_of_the_header(lead_api):
    content = "\ufeffExternal_ID\tName\tSurvey_Consent\nT-1\tTanya\tNo\n"
    report = import_csv(lead_api, content.encode("utf-8")).json()
    assert (report["created"], report["errors"]) == (1, [])
    assert Customer.objects.get(external_id="T-1").survey_consent is False


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (b"\n \n", "empty"),
        (b"C-1,Anna,anna@example.com\n", "header"),
        (b"external_id,name,shoe_size\n", "shoe_size"),
        (b"name,email\nAnna,a@example.com\n", "external_id"),
        (b"external_id,name,name\n", "more than once"),
        (b"PK\x03\x04\x00\x00binary", "not a CSV"),
        (b'external_id,name\nX,"unterminated\nY,Boris\n', "Line 3 cannot be read"),
    ],
)
def test_an_unreadable_file_is_a_400_naming_the_file_and_stores_nothing(lead_api, content, words):
    response = import_csv(lead_api, content)
    assert response.status_code == 400
    assert words in response.json()["file"][0]
    assert not Customer.objects.exists()


def test_no_file_and_too_big_a_file_are_400s(lead_api, monkeypatch):
    response = lead_api.post("/api/customers/import/", {}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()
    monkeypatch.setattr("customers.csv_io.common.MAX_FILE_BYTES", 100)
    response = import_csv(lead_api, HEADER + "X-1,A,,,,,\n" * 10)
    assert response.status_code == 400 and "larger than" in response.json()["file"][0]


def test_a_row_with_more_values_than_the_header_is_reported(lead_api):
    report = import_csv(lead_api, "external_id,name\nA-1,Anna,Petrova\nA-2,Boris\n").json()
    assert report["created"] == 1
    assert errors_of(report) == {(2, "non_field_errors")}


def test_a_quoted_value_over_two_lines_keeps_the_next_line_numbers_right(lead_api):
    content = 'external_id,name,company\nA-1,Anna,"two\nlines"\nA-2,Boris,\n,Vera,x\n'
    report = import_csv(lead_api, content).json()
    assert errors_of(report) == {(5, "external_id")}
    assert Customer.objects.get(external_id="A-1").company == "two\nlines"


@pytest.mark.parametrize("role", ["Executive", "Support"])
def test_only_who_may_add_and_change_customers_imports_them(api_as, role):
    client = api_as(role)
    assert import_csv(client, MIXED).status_code == 403
    assert not Customer.objects.exists()
    CustomerFactory()
    response, rows = export_csv(client, "/api/customers/export/")
    assert len(rows) == 1


def test_export_asks_a_fixed_number_of_queries_and_ignores_accept(lead_api, django_assert_max_num_queries):
    CustomerFactory.create_batch(30, loyal=True)
    export_csv(lead_api, "/api/customers/export/")  # warm the permission cache
    with django_assert_max_num_queries(3):
        response, rows = export_csv(lead_api, "/api/customers/export/")
    assert len(rows) == 30
    assert lead_api.get("/api/customers/export/", HTTP_ACCEPT="text/csv").status_code == 200


# --- events ----------------------------------------------------------------------------------------

EVENTS_HEADER = "customer_external_id,kind,occurred_at,touchpoint,amount,external_id,data.order,data.items\n"


def events_file(touchpoint_id: int) -> str:
    return (
        EVENTS_HEADER
        + f"E-1,purchase,2026-05-01T14:30:00+03:00,{touchpoint_id},1499.90,ord-1,A-1,2\n"  # 2: good
        + "E-1,visit,2026-05-02 10:00,,,visit-1,,\n"  # 3: good, naive time
        + "E-1,purchase,2026-05-03T10:00:00Z,,,ord-2,A-2,\n"  # 4: purchase without amount
        + "NOBODY,visit,,,,visit-2,,\n"  # 5: unknown customer
        + "E-1,teleport,,,,visit-3,,\n"  # 6: unknown kind
        + "E-1,visit,yesterday,,,visit-4,,\n"  # 7: bad time
        + "E-1,visit,,999999,,visit-5,,\n"  # 8: unknown touchpoint
        + "E-1,visit,,,,ord-1,,\n"  # 9: repeats line 2's external id
        + ",visit,,,,visit-6,,\n"  # 10: no customer
    )


def test_events_good_rows_are_stored_and_bad_ones_reported(lead_api):
    customer = CustomerFactory(external_id="E-1")
    content = events_file(TouchpointFactory().pk)
    preview = import_csv(lead_api, content, resource="events", dry_run=True).json()
    assert (preview["created"], preview["duplicates"], preview["rejected"]) == (2, 0, 7)
    assert not customer.events.exclude(kind="stage_changed").exists()

    report = import_csv(lead_api, content, resource="events").json()
    assert (report["created"], report["duplicates"], report["total_rows"]) == (2, 0, 9)
    assert errors_of(report) == {
        (4, "amount"),
        (5, "customer_external_id"),
        (6, "kind"),
        (7, "occurred_at"),
        (8, "touchpoint"),
        (9, "external_id"),
        (10, "customer_external_id"),
    }
    purchase = Event.objects.get(external_id="ord-1")
    assert (purchase.customer, str(purchase.amount), purchase.data) == (
        customer,
        "1499.90",
        {"order": "A-1", "items": 2},
    )
    assert purchase.occurred_at.isoformat() == "2026-05-01T11:30:00+00:00"

    again = import_csv(lead_api, content, resource="events").json()
    assert (again["created"], again["duplicates"], again["rejected"]) == (0, 2, 7)
    assert customer.events.exclude(kind="stage_changed").count() == 2


def test_events_export_with_filters_reimports_as_duplicates(lead_api):
    anna, boris = CustomerFactory(external_id="A"), CustomerFactory(external_id="B")
    EventFactory(
        customer=anna, kind="purchase", amount="10.50", external_id="p-1", data={"order": "X", "n": 1}
    )
    EventFactory(customer=boris, external_id="v-1")
    response, rows = export_csv(lead_api, "/api/events/export/?customer_external_id=A&kind=purchase")
    assert "events-" in response["Content-Disposition"]
    assert rows == [
        {
            "customer_external_id": "A",
            "kind": "purchase",
            "occurred_at": Event.objects.get(external_id="p-1").occurred_at.isoformat(),
            "touchpoint": "",
            "amount": "10.50",
            "external_id": "p-1",
            "data.n": "1",
            "data.order": "X",
        }
    ]
    text = b"".join(lead_api.get("/api/events/export/").streaming_content)
    report = import_csv(lead_api, text, resource="events").json()
    assert (report["created"], report["errors"]) == (0, [])
    assert report["duplicates"] == Event.objects.count()


def test_support_imports_events_but_an_executive_does_not(api_as):
    CustomerFactory(external_id="E-1")
    content = "customer_external_id,kind,external_id\nE-1,visit,v-1\n"
    assert import_csv(api_as("Executive"), content, resource="events").status_code == 403
    response = import_csv(api_as("Support"), content, resource="events")
    assert response.status_code == 200 and response.json()["created"] == 1


# --- admin -----------------------------------------------------------------------------------------

IMPORT_URL = "/admin/customers/customer/import/"


@pytest.fixture
def admin_as(client, make_user, settings, tmp_path):
    settings.CSV_IMPORT_DIR = tmp_path  # uploads waiting for confirmation

    def login(role: str):
        client.force_login(make_user(role))
        return client

    return login


def test_admin_import_shows_a_preview_then_imports_the_good_rows(admin_as, make_user, tmp_path):
    client = admin_as("CX lead")
    changelist = client.get("/admin/customers/customer/")
    assert b"Import CSV" in changelist.content and b"Export all (filtered)" in changelist.content
    assert client.get(IMPORT_URL).status_code == 200

    preview = client.post(IMPORT_URL, {"file": upload(MIXED)})
    assert preview.status_code == 200
    report = preview.context["report"]
    assert (report.dry_run, report.created, report.rejected) == (True, 2, 5)
    assert {(e.line, e.field) for e in report.errors} >= {(3, "client_type"), (6, "lifecycle_stage")}
    assert b"Confirm import" in preview.content and b"csv-import-errors" in preview.content
    assert not Customer.objects.exists()

    # Another user cannot confirm someone else's upload.
    other = type(client)()
    other.force_login(make_user("CX lead", username="other_lead"))
    assert other.post(IMPORT_URL, {"token": preview.context["token"]}).status_code == 302
    assert not Customer.objects.exists()

    done = client.post(IMPORT_URL, {"token": preview.context["token"]})
    assert done.status_code == 200
    assert (done.context["report"].dry_run, done.context["report"].created) == (False, 2)
    assert set(Customer.objects.values_list("external_id", flat=True)) == {"C-1", "OLD-1"}
    assert not list(tmp_path.iterdir())  # the waiting upload is gone
    again = client.post(IMPORT_URL, {"token": preview.context["token"]})
    assert again.status_code == 302 and Customer.objects.count() == 2


def test_admin_import_of_an_unreadable_file_shows_the_error_on_the_form(admin_as):
    response = admin_as("CX lead").post(IMPORT_URL, {"file": upload("name,shoe_size\nAnna,38\n")})
    assert response.status_code == 200
    assert "shoe_size" in response.context["form"].errors["file"][0]


@pytest.mark.parametrize("role", ["Executive", "Support"])
def test_admin_import_needs_add_and_change_but_export_only_view(admin_as, role):
    client = admin_as(role)
    CustomerFactory(external_id="X-1", lifecycle_stage="loyalty")
    CustomerFactory(external_id="X-2", lifecycle_stage="interest")
    assert b"Import CSV" not in client.get("/admin/customers/customer/").content
    assert client.get(IMPORT_URL).status_code == 403
    assert client.post(IMPORT_URL, {"file": upload(MIXED)}).status_code == 403
    response, rows = export_csv(client, "/admin/customers/customer/export/?lifecycle_stage__exact=loyalty")
    assert [r["external_id"] for r in rows] == ["X-1"]


def test_admin_action_exports_the_selected_customers(admin_as):
    chosen, _ = CustomerFactory(external_id="S-1"), CustomerFactory(external_id="S-2")
    response = admin_as("Executive").post(
        "/admin/customers/customer/", {"action": "export_selected_csv", "_selected_action": [chosen.pk]}
    )
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [r["external_id"] for r in rows] == ["S-1"]


def test_admin_imports_events_too(admin_as):
    CustomerFactory(external_id="E-1")
    client = admin_as("CX lead")
    url = "/admin/customers/event/import/"
    preview = client.post(
        url, {"file": upload("customer_external_id,kind,external_id\nE-1,visit,v-1\nE-1,fly,v-2\n")}
    )
    assert (preview.context["report"].created, preview.context["report"].rejected) == (1, 1)
    client.post(url, {"token": preview.context["token"]})
    assert Event.objects.filter(external_id="v-1").exists()
