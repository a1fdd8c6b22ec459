import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxplatform.settings")

app = Celery("cxplatform")
# Every CELERY_* Django setting configures Celery; tasks.py in each installed app is found by itself.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
