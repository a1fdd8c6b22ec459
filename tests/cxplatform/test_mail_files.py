"""The embedded e-mail backend: what a person opens in var/mail/."""

import email

from django.core.mail import EmailMessage, get_connection


def test_each_message_is_a_file_of_its_own_that_a_mail_client_opens(tmp_path, settings):
    settings.EMAIL_BACKEND = "cxplatform.mail.OneFilePerMessageBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    connection = get_connection()
    connection.open()  # one connection for many messages, as a sending chunk does
    messages = [EmailMessage(f"Survey {n}", "Hello", to=[f"c{n}@example.com"]) for n in range(3)]
    assert connection.send_messages(messages) == 3
    connection.send_messages([EmailMessage("Survey 3", "Hello", to=["c3@example.com"])])
    connection.close()

    files = sorted(tmp_path.glob("*.eml"))
    assert len(files) == 4
    subjects = {email.message_from_bytes(f.read_bytes())["Subject"] for f in files}
    assert subjects == {f"Survey {n}" for n in range(4)}
