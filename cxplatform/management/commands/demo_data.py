"""`manage.py demo_data`: a realistic data set and a login per role, for `make run`.

Safe to run again: the data is loaded once; the logins are (re)set to the password kept in
var/demo-login.txt, so what is printed always works.
"""

import secrets

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from customers import demo as customers_demo
from cxplatform.roles import ADMIN, CX_LEAD, EXECUTIVE, SUPPORT
from feedback import demo as feedback_demo
from surveys import demo as surveys_demo

DEMO_USERS = [("admin", ADMIN), ("support", SUPPORT), ("cxlead", CX_LEAD), ("executive", EXECUTIVE)]
PASSWORD_FILE = settings.VAR_DIR / "demo-login.txt"


class Command(BaseCommand):
    help = "Load the demo data set (once) and print the demo logins."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("Demo data and logins are for a local DEBUG setup only.")
        password = self._password()
        with transaction.atomic():
            for username, role in DEMO_USERS:
                user, _ = User.objects.get_or_create(
                    username=username, defaults={"email": f"{username}@example.com"}
                )
                user.is_staff = True
                user.is_superuser = role == ADMIN
                user.set_password(password)
                user.save()
                user.groups.set([Group.objects.get(name=role)])
            # Feedback last: it opens follow-ups of the surveys' detractor answers.
            loaded = [customers_demo.load(), surveys_demo.load(), feedback_demo.load()]
        self.stdout.write("\n".join(loaded))
        base = settings.SITE_URL
        self.stdout.write(
            self.style.SUCCESS(
                f"\ncxplatform is at {base}/admin/  (API: {base}/api/, docs: {base}/api/docs/)\n"
                f"Log in as admin / {password}\n"
                f"  (or support, cxlead, executive with the same password, to see each role)\n"
            )
        )

    def _password(self) -> str:
        if PASSWORD_FILE.exists():
            return PASSWORD_FILE.read_text().strip()
        password = secrets.token_urlsafe(9)
        PASSWORD_FILE.write_text(password + "\n")
        PASSWORD_FILE.chmod(0o600)
        return password
