"""`syncmotion batch` on Ray: model-holding worker actors, one job at a time each; a dead worker's job is queued again.

Workers return a job's files as bytes and the command writes them, so only the machine running `syncmotion batch`
needs the output folder, and a job is written once, by one process, however many workers die. Each worker runs
torch with a fixed number of threads (its CPUs): torch's results depend on that number, so a job gives the same bytes
on every worker of a batch, and the bytes `syncmotion motion` gives with as many threads (OMP_NUM_THREADS=1 for 1).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import ray
from ray.exceptions import RayActorError

from syncmotion.backends.mdm import MotionBackend
from syncmotion.backends.registry import ModelOptions

from .motion import MotionJob, load_backend, make_motion

# A job whose worker died this many times (killed, out of memory, a crashing library) is failed, not tried again.
MAX_ATTEMPTS = 3
# Workers are named, so an operator (or a test) can find one: `ray.util.list_named_actors(all_namespaces=True)`.
WORKER_PREFIX = "syncmotion-batch-worker"


@dataclass(frozen=True)
class Outcome:
    """What came of one job: its files (name -> bytes) or why it failed, and whether its worker loaded a model for it."""

    job_id: str
    files: dict[str, bytes] | None = None
    error: str | None = None
    loaded_model: bool = False
    seconds: float = 0.0


class MotionWorker:
    """A worker's state: the motion models its jobs needed, each loaded once and kept, and torch's thread count."""

    def __init__(self, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self.backends: dict[tuple[Path | None, ModelOptions], MotionBackend] = {}

    def _backend(self, model: Path | None, options: ModelOptions) -> tuple[MotionBackend, bool]:
        """The model for a job and whether it was loaded now."""
        from syncmotion.devices import resolve_device

        # "auto" is resolved here, not where the command runs: a worker's GPUs are the ones Ray gave it.
        try:
            options = dataclasses.replace(options, device=resolve_device(options.device))
        except ValueError as error:
            raise click.ClickException(f"--device {error}") from None
        key = (model, options)
        if key in self.backends:
            return self.backends[key], False
        self.backends[key] = load_backend(model, options)
        return self.backends[key], True

    def run(self, job_id: str, job: MotionJob) -> Outcome:
        """Make `job` and return its files; a failing job comes back as its reason (a worker outlives its jobs)."""
        started = time.perf_counter()
        loaded = False
        try:
            backend, loaded = self._backend(job.model, job.model_options)
            job.check_length(backend)
            with tempfile.TemporaryDirectory(prefix="syncmotion-batch-") as folder:
                paths, _ = make_motion(job, backend, Path(folder), progress=False)
                files = {path.name: path.read_bytes() for path in paths}
        except click.ClickException as error:
            return Outcome(job_id, error=error.format_message(), loaded_model=loaded)
        except Exception as error:  # a model or library error fails this job only; the reason goes to failures.jsonl
            return Outcome(job_id, error=f"{type(error).__name__}: {error}", loaded_model=loaded)
        return Outcome(job_id, files=files, loaded_model=loaded, seconds=time.perf_counter() - started)


def connect(address: str | None, cpus: int) -> bool:
    """Join the Ray cluster at `address`, or start a local one with `cpus` CPUs; True when this call started Ray."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no reports to Ray's servers from a generator's batch
    if ray.is_initialized():
        return False  # a session (a notebook, a test) that started Ray keeps its own
    try:
        if address is None:
            # Ray's notes on a cluster of one's own (token authentication, ...) are not the user's business here.
            ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        else:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as error:
        reason = str(error).rstrip(".")
        if address is None:
            raise click.ClickException(f"cannot start a local Ray cluster: {reason}; see `ray start --head` for what Ray needs") from None
        raise click.ClickException(f"cannot join the Ray cluster at {address}: {reason}; start one with `ray start --head`, "
                                   "or leave out --address for a local one") from None
    return True


def cluster_resources() -> tuple[float, float]:
    """The CPUs and GPUs of the Ray cluster this process is connected to."""
    resources = ray.cluster_resources()
    return resources.get("CPU", 0.0), resources.get("GPU", 0.0)


class WorkerPool:
    """`count` worker actors with `cpus` CPUs (torch threads) and `gpus` GPUs each; a dead one is replaced."""

    def __init__(self, count: int, cpus: float, gpus: float) -> None:
        self.worker = ray.remote(MotionWorker)
        self.resources = {"num_cpus": cpus, "num_gpus": gpus}
        self.threads = max(1, int(cpus))
        self.names = (f"{WORKER_PREFIX}-{os.getpid()}-{n}" for n in itertools.count())
        self.actors = [self._start() for _ in range(count)]
        self.started = count

    def _start(self) -> Any:  # a handle of a MotionWorker actor
        return self.worker.options(name=next(self.names), **self.resources).remote(self.threads)

    def run(self, jobs: Sequence[tuple[str, MotionJob]], report: Callable[[Outcome], None],
            warn: Callable[[str], None]) -> None:
        """Run every job once on the workers, reporting each outcome as it comes; a job whose worker dies runs again."""
        pending = deque(jobs)
        attempts = dict.fromkeys((job_id for job_id, _ in jobs), 0)
        running: dict[ray.ObjectRef, tuple[int, tuple[str, MotionJob]]] = {}
        idle = list(range(len(self.actors)))
        while pending or running:
            while pending and idle:
                slot = idle.pop()
                job = pending.popleft()
                attempts[job[0]] += 1
                running[self.actors[slot].run.remote(*job)] = (slot, job)
            [done], _ = ray.wait(list(running), num_returns=1)
            slot, job = running.pop(done)
            idle.append(slot)
            try:
                outcome = ray.get(done)
            except RayActorError as error:
                # The worker died with the job: nothing of it was written, so it runs again on a fresh worker.
                ray.kill(self.actors[slot])
                self.actors[slot] = self._start()
                self.started += 1
                if attempts[job[0]] >= MAX_ATTEMPTS:
                    report(Outcome(job[0], error=f"its worker died {MAX_ATTEMPTS} times running it ({_first_line(error)})"))
                else:
                    warn(f"a worker died running job {job[0]}; it runs again")
                    pending.appendleft(job)
                continue
            report(outcome)

    def close(self) -> None:
        """Stop the workers."""
        for actor in self.actors:
            ray.kill(actor)


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
