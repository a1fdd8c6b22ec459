from django.db import migrations


def create_sweep_schedule(apps, schema_editor):
    # In django-celery-beat's tables so the interval can be tuned in the admin.
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.get_or_create(
        name="SLA sweep",
        defaults={"task": "feedback.tasks.sla_sweep_task", "interval": every_minute},
    )


class Migration(migrations.Migration):
    dependencies = [
        ("feedback", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_sweep_schedule, migrations.RunPython.noop)]
