"""A worker hands memory a task freed back to the system (newsletter/worker_memory.py):
big blocks when they are freed, the rest of the freed heap after each task."""

from __future__ import annotations

import subprocess
import sys

import pytest

from newsletter import worker_memory

pytestmark = pytest.mark.skipif(
    worker_memory._glibc() is None, reason="glibc's allocator only (musl, macOS: no-ops)"
)

# Big temporaries interleaved with small blocks that live on (a batch's results): freed,
# they leave holes in the heap that trimming its top alone never gives back.
SCRIPT = """
import sys
import numpy as np
from newsletter import worker_memory

def resident_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

if sys.argv[1] == "tuned":
    worker_memory.allocator_tune()
np.ones(2**21)  # a 16 MB block freed: untuned, glibc serves 8 MB ones from its heap after it
kept, temporaries = [], []
for _ in range(40):
    temporaries.append(np.ones(2**20))
    kept.append(np.ones(2**13))
before = resident_mb()
del temporaries
if sys.argv[1] == "released":
    worker_memory.freed_memory_release()
print(before - resident_mb())
"""


def freed_mb(mode: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True
    )
    return float(done.stdout)


def test_a_tuned_worker_gives_big_freed_blocks_back_at_once():
    assert freed_mb("tuned") > 300  # of the 320 MB freed


def test_freed_memory_goes_back_when_a_task_ends():
    assert freed_mb("released") > 300


def test_the_worker_hook_releases_after_a_task_and_not_inside_an_eager_one(monkeypatch):
    from types import SimpleNamespace

    from newsletter.celery import _release_freed_memory

    calls = []
    monkeypatch.setattr(worker_memory, "freed_memory_release", lambda: calls.append(1))

    _release_freed_memory(task=SimpleNamespace(request=SimpleNamespace(is_eager=True)))
    assert calls == []
    _release_freed_memory(task=SimpleNamespace(request=SimpleNamespace(is_eager=False)))
    assert calls == [1]
