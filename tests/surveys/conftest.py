"""Fixtures of the surveys tests: a CX lead logged in to the admin, and its launch button."""

import pytest
from django.urls import reverse

from cxplatform.roles import CX_LEAD


def _action_url(campaign, action: str) -> str:
    return reverse(f"admin:surveys_campaign_{action}", args=[campaign.pk])


@pytest.fixture
def lead(client, make_user):
    client.force_login(make_user(CX_LEAD))
    return client


@pytest.fixture
def admin_launch(django_capture_on_commit_callbacks):
    """POST the launch button and run what it enqueued: the run, then the sending."""

    def run(client, campaign):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(_action_url(campaign, "launch"))

    return run
