"""A local SMTP sink (aiosmtpd) that records every accepted message and can misbehave on purpose.

Run as its own process: `python -m bench.smtp_sink --port 2525 --log sink.log`. It prints
`READY <port>` once listening; each accepted message appends `<Message-ID>\t<bytes>\t<rcpt>`
to the log. It offers PIPELINING unless --no-pipelining. Fault options answer 421/451 to a
share of messages, drop the connection in the middle of DATA, delay answers, or refuse chosen
addresses with 550 5.1.1.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import signal
import ssl
import subprocess
import sys
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)


class RecordingHandler:
    def __init__(self, args: argparse.Namespace) -> None:
        self.log = open(args.log, "a", buffering=1)  # noqa: SIM115 - lives as long as the sink
        self.temp_fail_share = args.temp_fail_share
        self.drop_share = args.drop_share
        self.delay = args.delay_ms / 1000
        self.hard_bounce = set(args.hard_bounce)
        self.random = random.Random(args.seed)
        self.pipelining = not args.no_pipelining

    async def handle_EHLO(self, server, session, envelope, hostname, responses) -> list[str]:
        """Offer PIPELINING (RFC 2920) like production relays; aiosmtpd reads commands from
        a buffer, so it already answers pipelined ones correctly, it only doesn't say so."""
        session.host_name = hostname
        if not self.pipelining:
            return responses
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address.lower() in self.hard_bounce:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        roll = self.random.random()
        if roll < self.drop_share:
            server.transport.close()
            return "421 4.4.2 connection dropped by the test sink"
        if roll < self.drop_share + self.temp_fail_share:
            return self.random.choice(
                ["451 4.3.0 try again later", "421 4.7.0 too busy, try again later"]
            )
        content = envelope.original_content or b""
        found = MESSAGE_ID.search(content[:8192])
        message_id = found.group(1).decode() if found else "-"
        self.log.write(f"{message_id}\t{len(content)}\t{','.join(envelope.rcpt_tos)}\n")
        return "250 2.0.0 queued"


def certificate_paths(folder: Path) -> tuple[Path, Path]:
    return folder / "sink-cert.pem", folder / "sink-key.pem"


def self_signed_context(folder: Path) -> ssl.SSLContext:
    """A throwaway certificate so the sink can offer STARTTLS like a production relay;
    clients trust it with EMAIL_SSL_CAFILE=<folder>/sink-cert.pem."""
    cert, key = certificate_paths(folder)
    if not cert.exists():
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def read_log(path: Path) -> list[tuple[str, int, str]]:
    """The sink's record: (Message-ID, size in bytes, recipients) per accepted message."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        message_id, size, recipients = line.split("\t")
        rows.append((message_id, int(size), recipients))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--log", required=True)
    parser.add_argument("--starttls", action="store_true", help="offer STARTTLS")
    parser.add_argument("--temp-fail-share", type=float, default=0.0)
    parser.add_argument("--drop-share", type=float, default=0.0)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--hard-bounce", nargs="*", default=[], help="addresses to 550")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-pipelining", action="store_true", help="don't offer PIPELINING")
    args = parser.parse_args(argv)

    tls_context = self_signed_context(Path(args.log).parent) if args.starttls else None
    controller = Controller(
        RecordingHandler(args),
        hostname="127.0.0.1",
        port=args.port,
        tls_context=tls_context,
        require_starttls=False,
        data_size_limit=10 * 1024 * 1024,
        decode_data=False,
    )
    controller.start()
    print(f"READY {controller.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.run_until_complete(stop.wait())
    controller.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
