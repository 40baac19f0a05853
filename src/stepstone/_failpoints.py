"""Named points in stepstone's write paths where a crash test can stop the process.

Nothing happens unless ``STEPSTONE_FAILPOINT`` names the point being passed (``name`` or
``name:detail``, e.g. ``partial-write:model.safetensors``). Then, depending on
``STEPSTONE_FAILPOINT_ACTION``:

- ``pause`` (default): append the point to the file ``STEPSTONE_FAILPOINT_FILE`` (if set) and wait
  there, so that a test can kill the process from outside with SIGKILL at exactly this moment;
- ``kill``: the process sends itself SIGKILL;
- ``sleep:<seconds>``: wait that long and carry on (widens race windows in concurrency tests).

The tests in ``tests/hub/test_crash.py`` use these to prove that no interrupted write leaves a
half-written ESM in a hub.
"""

from __future__ import annotations

import os
import signal
import time

ENV_POINT = "STEPSTONE_FAILPOINT"
ENV_ACTION = "STEPSTONE_FAILPOINT_ACTION"
ENV_FILE = "STEPSTONE_FAILPOINT_FILE"


def failpoint(name: str, detail: str | None = None) -> None:
    """Stop here if the environment asks for this point (see the module docstring)."""
    wanted = os.environ.get(ENV_POINT)
    if not wanted or wanted not in (name, f"{name}:{detail}"):
        return
    action = os.environ.get(ENV_ACTION, "pause")
    if action.startswith("sleep:"):
        time.sleep(float(action.split(":", 1)[1]))
        return
    marker = os.environ.get(ENV_FILE)
    if marker:
        with open(marker, "a", encoding="utf-8") as handle:
            handle.write(f"{wanted} {os.getpid()}\n")
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    while True:  # pause: wait to be killed
        time.sleep(0.05)
