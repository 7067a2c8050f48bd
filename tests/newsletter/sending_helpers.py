"""Test helpers for digests: a real SMTP sink on 127.0.0.1 (aiosmtpd, in a thread) that can
answer like a real server does, and a few readers and papers to send."""

from __future__ import annotations

import re
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Sink:
    """Accepted messages, and scripted answers: `answers[address]` is a list of SMTP replies
    given to that recipient's next DATA commands (then 250)."""

    answers: dict[str, list[str]] = field(default_factory=dict)
    rcpt_answers: dict[str, str] = field(default_factory=dict)
    accepted: list[bytes] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    sessions: int = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses) -> list[str]:
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.rcpt_answers:
            return self.rcpt_answers[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        address = envelope.rcpt_tos[0]
        with self.lock:
            scripted = self.answers.get(address)
            if scripted:
                answer = scripted.pop(0)
                if answer == "drop":
                    server.transport.close()
                    return "421 4.4.2 dropped"
                return answer
            self.accepted.append(envelope.original_content)
            self.recipients.append(address)
        return "250 2.0.0 queued"

    @property
    def message_ids(self) -> Counter[str]:
        found = (MESSAGE_ID.search(raw) for raw in self.accepted)
        return Counter(match.group(1).decode() for match in found if match)

    def parsed(self, index: int = -1) -> EmailMessage:
        return message_from_bytes(self.accepted[index], policy=policy.default)


class SinkServer:
    def __init__(self) -> None:
        self.sink = Sink()
        self.port = free_port()
        self.controller = Controller(
            self.sink, hostname="127.0.0.1", port=self.port, decode_data=False
        )

    def __enter__(self) -> SinkServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def use_smtp(settings, port: int) -> None:
    """Point Django's mail settings at the sink, as EMAIL_URL=smtp://127.0.0.1:port would."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
