"""Emails as .eml files: the embedded setup's backend and a dry run's output."""

from __future__ import annotations

import uuid
from email import generator, policy
from io import BytesIO
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage
from django.utils import timezone

from newsletter.mail.message import DigestEmail
from newsletter.mail.mime import mime_bytes


class EmlFileBackend(BaseEmailBackend):
    def __init__(self, *, file_path: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.folder = Path(file_path or settings.EMAIL_FILE_PATH)

    def send_messages(self, email_messages: list[EmailMessage]) -> int:
        self.folder.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue
            stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
            path = self.folder / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
            path.write_bytes(eml_bytes(message))
            sent += 1
        return sent


def write_eml(email: DigestEmail, folder: Path, *, name: str) -> Path:
    """A dry run's output: exactly the bytes SMTP would carry."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.eml"
    path.write_bytes(mime_bytes(email))
    return path


# Django has already folded its encoded headers; folding them again at 78 put the Subject's
# first encoded-word on a line of its own, and readers decoded it with a leading space.
_UNFOLDED = policy.compat32.clone(linesep="\r\n", max_line_length=998)


def eml_bytes(message: EmailMessage) -> bytes:
    out = BytesIO()
    generator.BytesGenerator(out, mangle_from_=False, policy=_UNFOLDED).flatten(message.message())
    return out.getvalue()
