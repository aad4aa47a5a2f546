"""`syncmotion batch` on Ray: model-holding worker actors, one job at a time each; a dead worker's job is queued again.

A worker keeps every model its jobs needed (motion models and Stable Diffusion pipelines), so a batch loads each
model once per worker however many jobs use it.

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

from .batch_images import PANORAMA_FILE, ImageJob
from .motion import MotionJob, load_backend, make_motion

Job = MotionJob | ImageJob

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


def _device(name: str) -> str:
    """The torch device `name` stands for in this worker ("auto": the GPU Ray gave it, else cpu)."""
    from syncmotion.devices import resolve_device

    try:
        return resolve_device(name)
    except ValueError as error:
        raise click.ClickException(f"--device {error}") from None


class JobWorker:
    """A worker's state: the models its jobs needed, each loaded once and kept, and torch's thread count."""

    def __init__(self, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self.backends: dict[tuple[Path | None, ModelOptions], MotionBackend] = {}
        self.pipelines: dict[tuple[str, str], Any] = {}  # Stable Diffusion pipelines by (folder, device)
        self.loads = 0

    def _backend(self, model: Path | None, options: ModelOptions) -> MotionBackend:
        """The motion model for a job, loaded on first use."""
        options = dataclasses.replace(options, device=_device(options.device))
        key = (model, options)
        if key not in self.backends:
            self.backends[key] = load_backend(model, options)
            self.loads += 1
        return self.backends[key]

    def _pipeline(self, model: str, device: str) -> Any:  # a diffusers StableDiffusionPipeline
        """The Stable Diffusion pipeline for a job, loaded on first use."""
        from syncmotion.backends.stable_diffusion import load_pipeline

        key = (model, _device(device))
        if key not in self.pipelines:
            try:
                self.pipelines[key] = load_pipeline(*key)
            except FileNotFoundError as error:
                raise click.ClickException(str(error)) from None
            self.loads += 1
        return self.pipelines[key]

    def _motion_files(self, job: MotionJob) -> dict[str, bytes]:
        backend = self._backend(job.model, job.model_options)
        job.check_length(backend)
        with tempfile.TemporaryDirectory(prefix="syncmotion-batch-") as folder:
            paths, _ = make_motion(job, backend, Path(folder), progress=False)
            return {path.name: path.read_bytes() for path in paths}

    def _image_files(self, job: ImageJob) -> dict[str, bytes]:
        from syncmotion.backends.stable_diffusion import StableDiffusionDenoiser
        from syncmotion.pipelines.images import panorama_image

        from .image_options import image_settings, write_png

        pipeline = self._pipeline(job.model, job.device)
        settings = image_settings(job.strategy, job.inv_lambda, job.lambda_schedule, job.steps, job.seed, job.max_batch)
        result = panorama_image(StableDiffusionDenoiser(pipeline, job.guidance, job.negative_prompt), job.prompt,
                                job.height // 8, job.width // 8, job.window, job.stride, job.wrap,
                                dataclasses.replace(settings, progress=False))
        with tempfile.TemporaryDirectory(prefix="syncmotion-batch-") as folder:
            path = Path(folder) / PANORAMA_FILE
            write_png(path, result.image)
            return {path.name: path.read_bytes()}

    def run(self, job_id: str, job: Job) -> Outcome:
        """Make `job` and return its files; a failing job comes back as its reason (a worker outlives its jobs)."""
        started, loads = time.perf_counter(), self.loads
        try:
            files = self._image_files(job) if isinstance(job, ImageJob) else self._motion_files(job)
        except click.ClickException as error:
            return Outcome(job_id, error=error.format_message(), loaded_model=self.loads > loads)
        except Exception as error:  # a model or library error fails this job only; the reason goes to failures.jsonl
            return Outcome(job_id, error=f"{type(error).__name__}: {error}", loaded_model=self.loads > loads)
        return Outcome(job_id, files=files, loaded_model=self.loads > loads, seconds=time.perf_counter() - started)


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
        self.worker = ray.remote(JobWorker)
        self.resources = {"num_cpus": cpus, "num_gpus": gpus}
        self.threads = max(1, int(cpus))
        self.names = (f"{WORKER_PREFIX}-{os.getpid()}-{n}" for n in itertools.count())
        self.actors = [self._start() for _ in range(count)]
        self.started = count

    def _start(self) -> Any:  # a handle of a JobWorker actor
        return self.worker.options(name=next(self.names), **self.resources).remote(self.threads)

    def run(self, jobs: Sequence[tuple[str, Job]], report: Callable[[Outcome], None],
            warn: Callable[[str], None]) -> None:
        """Run every job once on the workers, reporting each outcome as it comes; a job whose worker dies runs again."""
        pending = deque(jobs)
        attempts = dict.fromkeys((job_id for job_id, _ in jobs), 0)
        running: dict[ray.ObjectRef, tuple[int, tuple[str, Job]]] = {}
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
