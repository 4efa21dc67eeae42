"""Long jobs (serve, capacity, plan) in worker processes: progress as they run, results kept a while, cancel.

A job runs in its own process (`python -m wafersim.web.worker KIND`: body on stdin, JSON lines back) so that
cancelling it is immediate (the process is terminated; a CPU-bound simulation cannot be interrupted from a
thread) and a crash cannot take the server down. At most
`max_running` run at once and at most `max_active` wait or run; more are refused (the server's protection).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

# Two shared CPU cores is the smallest machine the project runs on; one job per core.
MAX_RUNNING = 2
MAX_ACTIVE = 8
# Finished jobs kept for GET (oldest forgotten first).
MAX_KEPT = 64
# Wall-clock bound on one job: the serve/capacity/plan limits keep jobs to well under a minute on a loaded
# 2-core machine; ten times that means something is wrong.
MAX_JOB_S = 600.0
FINISHED = ("done", "failed", "cancelled")


class JobsBusy(Exception):
    """Too many jobs waiting or running."""


@dataclass
class Job:
    id: str
    kind: str
    body: dict[str, Any]
    state: str = "queued"  # queued | running | done | failed | cancelled
    stage: str = "queued"
    progress: float | None = 0.0  # fraction done; None while a stage's length is not known
    created_s: float = field(default_factory=time.time)
    started_s: float | None = None
    finished_s: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    error_field: str | None = None  # the body field a refused input names, when it names one
    process: Any = None

    def to_dict(self, with_result: bool = True) -> dict[str, Any]:
        end = self.finished_s or time.time()
        data = {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "stage": self.stage,
            "progress": self.progress,
            "elapsed_s": end - self.started_s if self.started_s else 0.0,
            "body": self.body,
            "error": self.error,
            "error_field": self.error_field,
        }
        if with_result:
            data["result"] = self.result
        return data


def _command(kind: str) -> list[str]:
    return [sys.executable, "-m", "wafersim.web.worker", kind]


def _stop(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
        os.killpg(process.pid, signal.SIGTERM)


class JobRunner:
    def __init__(self, max_running: int = MAX_RUNNING, max_active: int = MAX_ACTIVE) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(max_running)
        self._max_active = max_active

    def submit(self, kind: str, body: dict[str, Any]) -> Job:
        with self._lock:
            active = sum(job.state not in FINISHED for job in self._jobs.values())
            if active >= self._max_active:
                raise JobsBusy(f"{active} jobs are waiting or running (at most {self._max_active})")
            job = Job(uuid.uuid4().hex[:12], kind, body)
            self._jobs[job.id] = job
            self._forget_old()
        threading.Thread(target=self._run, args=(job,), daemon=True, name=f"job-{job.id}").start()
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def list(self) -> list[Job]:
        return sorted(self._jobs.values(), key=lambda job: job.created_s)

    def cancel(self, job_id: str) -> Job | None:
        job = self._jobs.get(job_id)
        if job is None or job.state in FINISHED:
            return job
        with self._lock:
            job.state, job.stage, job.finished_s = "cancelled", "cancelled", time.time()
            if job.process is not None and job.process.poll() is None:
                _stop(job.process)
        return job

    def shutdown(self) -> None:
        for job in list(self._jobs.values()):
            self.cancel(job.id)

    def _forget_old(self) -> None:
        finished = [job for job in self.list() if job.state in FINISHED]
        for job in finished[: max(0, len(self._jobs) - MAX_KEPT)]:
            del self._jobs[job.id]

    def _run(self, job: Job) -> None:
        with self._slots:
            with self._lock:
                if job.state == "cancelled":
                    return
                # Its own process group: cancelling also stops the plan's capacity-search processes.
                job.process = subprocess.Popen(
                    _command(job.kind),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    start_new_session=True,
                )
                job.state, job.stage, job.started_s = "running", "starting", time.time()
            timer = threading.Timer(MAX_JOB_S, self._overdue, args=(job,))
            timer.start()
            try:
                job.process.stdin.write(json.dumps(job.body))
                job.process.stdin.close()
                self._follow(job)
            except Exception as error:  # a garbled line or a closed pipe: the job must not stay "running"
                with self._lock:
                    if job.state == "running":
                        job.state, job.stage, job.finished_s = "failed", "failed", time.time()
                        job.error = f"internal error following the worker: {type(error).__name__}: {error}"
                _stop(job.process)
            finally:
                timer.cancel()
                job.process.wait()

    def _overdue(self, job: Job) -> None:
        self.cancel(job.id)
        job.state, job.error = "failed", f"stopped after {MAX_JOB_S:.0f} s (the server's limit)"

    def _follow(self, job: Job) -> None:
        for line in job.process.stdout:
            message = json.loads(line)
            with self._lock:
                if job.state != "running":
                    return
                if message["state"] == "progress":
                    job.stage, job.progress = message["stage"], message["progress"]
                    continue
                job.state = job.stage = message["state"]
                job.finished_s, job.progress = time.time(), 1.0
                job.result, job.error = message.get("result"), message.get("error")
                job.error_field = message.get("field")
                return
        with self._lock:
            if job.state == "running":  # the worker ended without an answer
                job.state, job.finished_s = "failed", time.time()
                job.error = f"the worker stopped (exit code {job.process.wait()})"
