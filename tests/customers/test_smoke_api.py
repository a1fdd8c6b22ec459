import pytest

pytestmark = pytest.mark.django_db


def test_lead_creates_customer_and_sees_stage_change_on_timeline(lead_api):
    response = lead_api.post(
        "/api/customers/",
        {"name": "Anna", "email": "anna@example.com", "client_type": "loyal", "lifecycle_stage": "interest"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["client_type"] == "loyal"
    assert "asks rather than complains" in body["client_type_guidance"]
    timeline = lead_api.get(f"/api/customers/{body['id']}/timeline/").json()
    assert [e["kind"] for e in timeline["results"]] == ["stage_changed"]
    assert timeline["results"][0]["data"] == {"from": "", "to": "interest"}
