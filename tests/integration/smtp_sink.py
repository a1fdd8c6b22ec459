"""A real SMTP server on loopback (aiosmtpd, in a thread) that records every message it accepts.

Used by tests/integration/ and bench/campaign.py: the worker under test gets EMAIL_URL=sink.url and
talks real SMTP to it. `on_message` runs in the server's thread after a message is recorded and
before the client is told "250 OK", which is the moment a message is in flight: a test can kill the
sending worker right there.
"""

import asyncio
import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import default as default_policy

from aiosmtpd.controller import Controller

# aiosmtpd logs every SMTP command at INFO: thousands of lines per campaign.
logging.getLogger("mail.log").setLevel(logging.WARNING)


@dataclass(frozen=True)
class Received:
    message_id: str
    to: tuple[str, ...]  # the envelope recipients
    at: float  # time.monotonic()


def free_port() -> int:
    # aiosmtpd's Controller cannot listen on port 0 (it connects to its own port to start up).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpSink:
    """`with SmtpSink() as sink:` serves on 127.0.0.1:<free port> until the block ends."""

    def __init__(self, *, delay: float = 0.0, on_message: Callable[[int, Received], None] | None = None):
        self.delay = delay  # seconds each DATA takes to be accepted, as a slow mail server's does
        self.on_message = on_message  # called with (how many received so far, the message)
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._parser = BytesHeaderParser(policy=default_policy)
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.controller.port}"

    def __enter__(self) -> "SmtpSink":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    # --- what was received --------------------------------------------------------------------

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._received)

    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def message_ids(self) -> Counter:
        """How many times each Message-ID arrived."""
        return Counter(message.message_id for message in self.received())

    def clear(self) -> None:
        with self._lock:
            self._received.clear()

    # --- aiosmtpd's handler hook ----------------------------------------------------------------

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's name
        headers = self._parser.parsebytes(envelope.original_content or envelope.content)
        message = Received(
            message_id=str(headers.get("Message-ID", "")).strip(),
            to=tuple(envelope.rcpt_tos),
            at=time.monotonic(),
        )
        with self._lock:
            self._received.append(message)
            count = len(self._received)
        if self.on_message is not None:
            self.on_message(count, message)
        if self.delay:
            await asyncio.sleep(self.delay)
        return "250 Message accepted for delivery"
