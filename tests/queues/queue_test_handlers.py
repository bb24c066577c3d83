"""Extra job handlers loaded by ``perfcore worker`` subprocesses in the tests
(via ``queues.handlers``): a slow job that says when it started, and who ran it."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from perfcore.queues.handlers import Handler, JobContext


def slow_job(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
    started = Path(data["started_file"])
    started.write_text(str(os.getpid()))
    time.sleep(float(data["seconds"]))
    return {"pid": os.getpid(), "job_key": ctx.job_key}


HANDLERS: dict[str, Handler] = {"slow_job": slow_job}
