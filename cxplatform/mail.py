"""The default e-mail backend of the embedded setup: one file per message under var/mail/."""

import datetime
import os
import uuid

from django.core.mail.backends.filebased import EmailBackend


class OneFilePerMessageBackend(EmailBackend):
    """Django's file backend writes everything sent over one connection into one file, so a survey
    chunk (one connection) would be 200 messages in a file. Here each message is a file of its own
    (.eml), which a person opens in a text editor or a mail client."""

    def open(self):
        return False  # nothing to hold open: each message opens its own file

    def close(self):
        pass

    def write_message(self, message):
        self.stream.write(message.message().as_bytes())  # a plain RFC 5322 file, no separators

    def send_messages(self, email_messages):
        sent = 0
        with self._lock:
            for message in email_messages:
                if not message.recipients():
                    continue
                stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
                path = os.path.join(self.file_path, f"{stamp}-{uuid.uuid4().hex[:12]}.eml")
                with open(path, "wb") as self.stream:
                    self.write_message(message)
                self.stream = None
                sent += 1
        return sent
