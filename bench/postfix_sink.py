"""Postfix's smtp-sink (a C test server) as the benchmark's fast sink: installed, started, read.

`apt-get download postfix` + `dpkg-deb -x` into var/postfix/ (gitignored) give the binary and
its libraries without installing or running Postfix. It accepts thousands of messages a second
on one core, so what the bench measures is our side, not the sink (aiosmtpd costs ~1.5 ms of
CPU per message and shares the two cores with the workers).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "var" / "postfix"
BINARY = FOLDER / "usr" / "sbin" / "smtp-sink"
LIBRARIES = FOLDER / "usr" / "lib" / "postfix"
# Written before each dumped message, so the dump splits back into messages exactly.
START = "\x01PAPERBOY-SINK\n"
MESSAGE_ID = re.compile(r"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)
COUNTER = re.compile(r"mesg=(\d+)")


def ensure_installed() -> Path:
    """The smtp-sink binary, fetched from the distribution's own archive on first use."""
    if BINARY.exists():
        return BINARY
    FOLDER.mkdir(parents=True, exist_ok=True)
    print("installing Postfix's smtp-sink into var/postfix (apt-get download)", flush=True)
    subprocess.run(["apt-get", "download", "postfix"], cwd=FOLDER, check=True)
    package = max(FOLDER.glob("postfix_*.deb"), key=lambda path: path.stat().st_mtime)
    subprocess.run(["dpkg-deb", "-x", str(package), str(FOLDER)], check=True)
    package.unlink()
    if not BINARY.exists():
        raise SystemExit(f"the postfix package has no {BINARY.relative_to(FOLDER)}")
    return BINARY


def start(*, port: int, folder: Path, dump: bool, pipelining: bool) -> subprocess.Popen:
    """Listen on 127.0.0.1:port; running counters go to folder/sink-counters.txt and, with
    `dump`, every message to folder/sink-dump/messages (for the Message-ID check)."""
    binary = ensure_installed()
    command = [str(binary), "-c"]
    if os.geteuid() == 0:  # smtp-sink refuses to run as root without dropping privileges
        command += ["-u", "nobody"]
    if not pipelining:
        command += ["-p"]
    if dump:
        dump_folder = folder / "sink-dump"
        dump_folder.mkdir(exist_ok=True)
        dump_folder.chmod(0o777)  # written by `nobody`, who must also get through `folder`
        folder.chmod(folder.stat().st_mode | 0o011)
        command += ["-S", START.replace("\x01", "\\001").replace("\n", "\\n")]
        command += ["-D", str(dump_folder / "messages")]
    command += [f"127.0.0.1:{port}", "256"]
    counters = open(folder / "sink-counters.txt", "w")  # noqa: SIM115 - the child holds it
    return subprocess.Popen(
        command,
        env={**os.environ, "LD_LIBRARY_PATH": str(LIBRARIES)},
        stdout=counters,
        stderr=subprocess.STDOUT,
    )


def messages_counted(folder: Path) -> int:
    """The sink's own counter of messages received (it rewrites `mesg=N` after each one)."""
    path = folder / "sink-counters.txt"
    found = COUNTER.findall(path.read_text(errors="replace")) if path.exists() else []
    return int(found[-1]) if found else 0


def read_dump(folder: Path) -> list[tuple[str, int, str]]:
    """(Message-ID, size in bytes, recipients) per dumped message, like bench.smtp_sink's log."""
    rows = []
    # strftime + a random suffix name the files; read them all.
    text = "".join(
        path.read_bytes().decode("utf-8", "replace")
        for path in sorted((folder / "sink-dump").glob("messages*"))
    )
    for chunk in text.split(START)[1:]:
        head = chunk.split("\n\n", 1)[0]
        found = MESSAGE_ID.search(head)
        recipients = ",".join(
            line.removeprefix("X-Rcpt-Args: <").split(">")[0]
            for line in head.splitlines()
            if line.startswith("X-Rcpt-Args:")
        )
        rows.append((found.group(1) if found else "-", len(chunk), recipients))
    return rows
