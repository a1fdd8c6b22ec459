"""The four staff roles of DESIGN.md and the model permissions each one holds.

Groups are created by a migration; their permissions are (re)assigned after every migrate, because
Django creates a model's permissions only after all migrations have run. A later app adds its
models here, in the role that should have them; the admin and the API both enforce these
permissions (Django's model permissions, see cxplatform.permissions).
"""

from django.db import transaction

SUPPORT = "Support"
CX_LEAD = "CX lead"
EXECUTIVE = "Executive"
ADMIN = "Admin"
ROLE_NAMES = (SUPPORT, CX_LEAD, EXECUTIVE, ADMIN)

ALL = ("view", "add", "change", "delete")
READ = ("view",)
READ_CREATE = ("view", "add")

DOMAIN_APPS = ("customers", "surveys", "feedback", "reports")
# What a CX lead sets up in the feedback app (DESIGN.md: "feedback settings").
FEEDBACK_SETTINGS = ("category", "businesscalendar", "workinghours", "holiday", "slapolicy")

# Per role: ("app_label.model" or "app_label.*", actions). The most specific rule wins.
ROLE_RULES: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    SUPPORT: [
        *[(f"{app}.*", READ) for app in DOMAIN_APPS],
        ("customers.customer", READ_CREATE),
        ("customers.event", READ_CREATE),
        # Complaints, requests and reviews are support's to work in full; the conversation and
        # attachments are added to, never rewritten; SLA settings are read-only to them.
        ("feedback.feedbackitem", ALL),
        ("feedback.itemmessage", READ_CREATE),
        ("feedback.attachment", READ_CREATE),
    ],
    CX_LEAD: [
        ("customers.*", ALL),
        ("surveys.*", ALL),
        ("feedback.*", READ),
        *[(f"feedback.{model}", ALL) for model in FEEDBACK_SETTINGS],
        ("reports.*", READ),
        # Beat schedules (segment refresh, reminders, sweeps) are a CX lead's to tune.
        ("django_celery_beat.*", ALL),
    ],
    EXECUTIVE: [(f"{app}.*", READ) for app in DOMAIN_APPS],
    ADMIN: [("*", ALL)],
}


def permitted_actions(role: str, app_label: str, model: str) -> tuple[str, ...]:
    """The actions a role may take on a model, by its most specific rule."""
    best: tuple[int, tuple[str, ...]] = (-1, ())
    for pattern, actions in ROLE_RULES[role]:
        if pattern == f"{app_label}.{model}":
            rank = 2
        elif pattern == f"{app_label}.*":
            rank = 1
        elif pattern == "*":
            rank = 0
        else:
            continue
        if rank > best[0]:
            best = (rank, actions)
    return best[1]


@transaction.atomic
def sync_roles() -> None:
    """Create the role groups if missing and give each exactly the permissions of ROLE_RULES."""
    from django.contrib.auth.models import Group, Permission

    permissions = list(Permission.objects.select_related("content_type"))
    for role in ROLE_NAMES:
        group, _ = Group.objects.get_or_create(name=role)
        wanted = [
            perm
            for perm in permissions
            if perm.codename.split("_", 1)[0]
            in permitted_actions(role, perm.content_type.app_label, perm.content_type.model)
        ]
        group.permissions.set(wanted)
