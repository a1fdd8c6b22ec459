import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from customers.models import ClientType, Customer, LifecycleStage, Segment
from cxplatform.management.commands import demo_data
from surveys.models import Survey

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings, tmp_path, monkeypatch):
    settings.DEBUG = True
    monkeypatch.setattr(demo_data, "PASSWORD_FILE", tmp_path / "demo-login.txt")
    return tmp_path / "demo-login.txt"


def test_demo_has_every_client_type_and_stage_sensible_segments_and_working_logins(demo, capsys, rf):
    call_command("demo_data")
    printed = capsys.readouterr().out
    password = demo.read_text().strip()
    assert f"Log in as admin / {password}" in printed
    for slug in ClientType.objects.filter(is_builtin=True).values_list("slug", flat=True):
        for stage in LifecycleStage.values:
            assert Customer.objects.filter(client_type__slug=slug, lifecycle_stage=stage).exists(), (
                slug,
                stage,
            )
    sizes = dict(Segment.objects.values_list("name", "member_count"))
    assert all(0 < size < Customer.objects.count() / 2 for size in sizes.values()), sizes
    assert Survey.objects.filter(status="active").exists()
    for username in ("admin", "support", "cxlead", "executive"):
        assert authenticate(rf.post("/admin/login/"), username=username, password=password)

    call_command("demo_data")  # again: nothing doubles, the same login still works
    assert Customer.objects.count() == 240 and Survey.objects.count() == 3
    assert password in capsys.readouterr().out


def test_demo_data_refuses_to_run_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("demo_data")
