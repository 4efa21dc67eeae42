"""Run one function over many independent inputs: in this process, on a local process pool, or on Ray.

Used by the fleet planner's capacity phase and by sweeps. Results come back as they finish, tagged with the
input's index, so a caller can store each one at once (a killed run keeps what finished). Whichever engine
runs them, a point's result depends only on its input (its seed travels inside it), so engines agree.

Workers never outlive the run: pool workers watch their parent and exit when it is gone (a `kill -9` of the
parent leaves no orphans), and a Ray runtime started here is shut down at the end.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from wafersim.errors import WafersimError

# How often a pool worker checks that its parent is alive (s): the longest an orphan can linger.
_PARENT_POLL_S = 0.5


def _watch_parent(parent_pid: int) -> None:
    """Pool-worker initializer: end this worker when the process that started the pool is gone."""

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(1)  # the parent died (kill -9): nothing to report to, leave at once
            time.sleep(_PARENT_POLL_S)

    threading.Thread(target=watch, daemon=True, name="wafersim-parent-watch").start()


@dataclass(frozen=True)
class Engine:
    """Where the work runs: `kind` is a key of ENGINES; `workers` processes (local) or Ray's address."""

    kind: str = "local"
    workers: int | None = None  # local: processes (default: every core); 1 runs in this process
    address: str | None = None  # ray: a cluster's address, or None to start a local runtime

    def __post_init__(self) -> None:
        if self.kind not in ENGINES:
            raise WafersimError(f"engine {self.kind!r}: choose one of {', '.join(ENGINES)}")
        if self.workers is not None and not 1 <= self.workers <= 1024:
            raise WafersimError(f"workers must be between 1 and 1024, got {self.workers}")

    def imap(self, function: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        """(index, function(items[index])) as each finishes; an exception inside `function` propagates."""
        if not items:
            return iter(())
        return ENGINES[self.kind](function, items, self)


def _local(function: Callable[[Any], Any], items: Sequence[Any], engine: Engine) -> Iterator[tuple[int, Any]]:
    workers = min(engine.workers or os.cpu_count() or 1, len(items))
    if workers == 1:
        for index, item in enumerate(items):
            yield index, function(item)
        return
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_watch_parent, initargs=(os.getpid(),))
    try:
        # Keep a bounded number in flight so a huge list does not sit pickled in the queue all at once.
        pending: dict[Future, int] = {}
        next_index = 0
        while next_index < len(items) or pending:
            while next_index < len(items) and len(pending) < 2 * workers:
                pending[pool.submit(function, items[next_index])] = next_index
                next_index += 1
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield pending.pop(future), future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _ray(function: Callable[[Any], Any], items: Sequence[Any], engine: Engine) -> Iterator[tuple[int, Any]]:
    try:
        import ray
    except ImportError:
        raise WafersimError("the ray engine needs Ray: pip install -e '.[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(
                address=engine.address,
                num_cpus=engine.workers if engine.address is None else None,
                include_dashboard=False,
                log_to_driver=False,
                logging_level="ERROR",
            )
        except ConnectionError as error:
            raise WafersimError(f"ray address {engine.address!r}: cannot connect ({error})") from None
    try:
        remote = ray.remote(function)
        pending = {remote.remote(item): index for index, item in enumerate(items)}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                yield pending.pop(ref), ray.get(ref)
    finally:
        if started_here:
            ray.shutdown()


# The engines users can name (`--ray` picks "ray"; the default is "local").
ENGINES: dict[str, Callable[[Callable[[Any], Any], Sequence[Any], Engine], Iterator[tuple[int, Any]]]] = {
    "local": _local,
    "ray": _ray,
}
