from django.db import migrations

# The five client types of the CX method (DOMAIN.md, seed 003), with what staff should know.
CLIENT_TYPES = [
    (
        "loyal",
        "Loyal",
        "Trusts the company and rates contact highly; when something goes wrong asks rather than "
        "complains. Answer fully and thank them: their questions point at where the company can grow.",
    ),
    (
        "control-freak",
        "Control freak",
        "Re-checks return terms, delivery times and other conditions, often several times. Confirm "
        "facts in writing and be exact. Their reports usually expose serious defects worth fixing: "
        "pass them on.",
    ),
    (
        "demanding",
        "Demanding",
        "Gives maximum feedback when something is wrong: photos of every flaw, courier arrival times, "
        "asks the courier to wait while they unpack. Acknowledge each point and keep them updated; "
        "they notice details managers miss.",
    ),
    (
        "doubting",
        "Doubting",
        "Ready to buy but keeps asking new questions. Answer thoroughly and convincingly until they "
        "decide; log the questions, which show what ads, product pages and the site fail to explain.",
    ),
    (
        "know-it-all",
        "Know-it-all",
        "Believes they know the product better than the seller and likes to catch contradictions. "
        "Stay calm and factual, listen closely: they reveal the myths and misconceptions on the market.",
    ),
]


def create_client_types(apps, schema_editor):
    ClientType = apps.get_model("customers", "ClientType")
    for slug, name, guidance in CLIENT_TYPES:
        ClientType.objects.update_or_create(
            slug=slug, defaults={"name": name, "guidance": guidance, "is_builtin": True}
        )


def create_refresh_schedule(apps, schema_editor):
    # Stored in django-celery-beat's tables so a CX lead can change the interval in the admin.
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_hour, _ = IntervalSchedule.objects.get_or_create(every=1, period="hours")
    PeriodicTask.objects.get_or_create(
        name="Refresh behavioural segments",
        defaults={"task": "customers.tasks.segments_refresh_all_task", "interval": every_hour},
    )


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [
        migrations.RunPython(create_client_types, migrations.RunPython.noop),
        migrations.RunPython(create_refresh_schedule, migrations.RunPython.noop),
    ]
