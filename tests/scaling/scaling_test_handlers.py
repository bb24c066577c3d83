"""A job handler for the autoscaler's closed-loop test, loaded by ``perfcore worker``
through ``queues.handlers``: a short piece of work that leaves one marker file per job."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from perfcore.queues.handlers import Handler, JobContext


def tick(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
    time.sleep(float(data["seconds"]))
    marker = Path(data["out_dir"]) / f"{data['n']}.done"
    # One file per job number: a retried job overwrites its own marker, a lost job leaves a gap.
    marker.write_text(f"{os.getpid()} {ctx.job_key}\n")
    return {"n": data["n"], "pid": os.getpid()}


HANDLERS: dict[str, Handler] = {"scaling_tick": tick}
