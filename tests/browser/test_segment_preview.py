import json

import pytest

from tests.factories import CustomerFactory, purchase

pytestmark = pytest.mark.django_db(transaction=True)


def test_cx_lead_previews_a_segment_before_saving_it(live_server, page, log_in, make_user):
    make_user("CX lead")
    buyers = [CustomerFactory(name=f"Buyer {n}") for n in range(3)]
    for buyer in buyers:
        purchase(buyer)
    CustomerFactory(name="Window shopper")
    log_in("cx_lead")

    page.goto(f"{live_server.url}/admin/customers/segment/add/")
    page.fill("#id_name", "Buyers")
    rules = {"match": "all", "rules": [{"field": "purchase_count", "op": "gte", "value": 1}]}
    page.fill("#id_rules", json.dumps(rules))
    page.click("#segment-preview")
    result = page.locator("#segment-preview-result")
    result.filter(has_text="customers match now").wait_for()
    assert result.inner_text().startswith("3 customers match now")
    assert "Buyer 0" in result.inner_text()

    # A malformed rule is explained where the CX lead is looking, nothing is saved.
    rules["rules"][0]["value"] = "lots"
    page.fill("#id_rules", json.dumps(rules))
    page.click("#segment-preview")
    result.filter(has_text="rules[0].value").wait_for()
    assert "must be a whole number" in result.inner_text()

    page.fill("#id_rules", "{not json")
    page.click("#segment-preview")
    result.filter(has_text="not valid JSON").wait_for()

    # The 400s of the bad previews (and the missing favicon's 404) are logged as failed loads;
    # anything else would be a JavaScript error on the page.
    assert [e for e in page.console_errors if not e.startswith("Failed to load resource")] == []
