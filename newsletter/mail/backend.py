"""Any other Django email backend behind the SMTP client's deliver(), and the choice of one."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import BadHeaderError, get_connection

from newsletter.mail.message import DigestEmail
from newsletter.mail.mime import HeaderInjection, django_message
from newsletter.mail.outcomes import Delivery, Outcome, RelayUnavailable
from newsletter.mail.smtp import SmtpMailer


class BackendMailer:
    """Any other Django email backend (the .eml folder, memory in tests, anymail ESPs)."""

    def __init__(self) -> None:
        self.connection = get_connection()
        self.opened = False

    def prepare(self, email: DigestEmail) -> None:
        """Nothing to build ahead: the backend builds its own message in deliver()."""

    def deliver(self, email: DigestEmail, data: bytes | None = None) -> Delivery:
        if not self.opened:
            try:
                self.connection.open()
            except Exception as error:  # noqa: BLE001 - any backend's transport failure
                raise RelayUnavailable(str(error)) from error
            self.opened = True
        try:
            sent = self.connection.send_messages([django_message(email)])
        except BadHeaderError as error:
            raise HeaderInjection(str(error)) from error
        except Exception as error:  # noqa: BLE001 - sorted below by what it says
            if error.__class__.__name__ == "AnymailRecipientsRefused":
                return Delivery(Outcome.BAD_MAILBOX, str(error)[:500])
            return Delivery(Outcome.TEMPORARY, f"{error.__class__.__name__}: {error}"[:500])
        return Delivery(Outcome.ACCEPTED if sent else Outcome.TEMPORARY, "")

    def close(self) -> None:
        if self.opened:
            self.connection.close()


def open_mailer() -> SmtpMailer | BackendMailer:
    if settings.EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend":
        return SmtpMailer()
    return BackendMailer()
