"""The floor: raw smtplib over reused connections, sending pre-built messages of a given size.

Whatever Paperboy does per email (match, render, build MIME, bookkeeping) is measured against
this: the same number of messages, the same size, the same sink, the same parallelism.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import time
from concurrent.futures import ProcessPoolExecutor
from email.utils import make_msgid
from multiprocessing import get_context


def prebuilt_message(*, size: int, sender: str, recipient: str) -> bytes:
    head = (
        f"From: {sender}\r\nTo: {recipient}\r\nSubject: floor\r\n"
        f"Message-ID: {make_msgid(domain='floor.invalid')}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
    ).encode()
    line = b"x" * 74 + b"\r\n"
    body = line * max(1, (size - len(head)) // len(line))
    return head + body


def _send_share(port: int, count: int, size: int, starttls: bool) -> int:
    message = prebuilt_message(size=size, sender="floor@bench.invalid", recipient="r@bench.invalid")
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        if starttls:
            client.starttls(context=ssl._create_unverified_context())  # self-signed sink
        # The same Nagle/delayed-ACK stall hits smtplib: give the floor the same fix as ours.
        client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(count):
            client.sendmail("floor@bench.invalid", ["r@bench.invalid"], message)
    return count


def measure_floor(*, port: int, messages: int, size: int, connections: int, starttls: bool) -> dict:
    """Send `messages` pre-built messages over `connections` parallel connections."""
    shares = [messages // connections + (i < messages % connections) for i in range(connections)]
    started = time.perf_counter()
    # spawn, not fork: the caller holds broker and database threads a fork would copy mid-lock.
    with ProcessPoolExecutor(max_workers=connections, mp_context=get_context("spawn")) as pool:
        sent = sum(pool.map(_send_share, [port] * connections, shares, [size] * connections,
                            [starttls] * connections))  # fmt: skip
    seconds = time.perf_counter() - started
    return {"messages": sent, "seconds": seconds, "per_second": sent / seconds}
