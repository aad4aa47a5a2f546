"""`syncmotion batch`: many motions (a folder of scripts or a JSONL file of jobs) on a Ray cluster, resumable.

Each job's files land in DIR/<job id>/ as one output set (syncmotion/files.py), the files `syncmotion motion` writes;
a job is done when its folder holds a complete set made with the job's settings, so a rerun skips it. A job that
fails is recorded in DIR/failures.jsonl with its reason, the others go on; a rerun skips it too (the same job
fails the same way) unless --retry-failed, or its settings changed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from tqdm import tqdm

from syncmotion.files import complete_set, output_set, write_atomically

from .batch_jobs import FAILURES, BatchJob, read_jobs
from .motion import GENERATION_OPTIONS, check_options, generation_options

if TYPE_CHECKING:
    from .batch_ray import Outcome


def _previous_failures(path: Path) -> dict[str, dict]:
    """The failures a previous run recorded in `path`, by job id."""
    if not path.is_file():
        return {}
    try:
        records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return {record["id"]: record for record in records}
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        raise click.ClickException(f"{path} is damaged; delete it (its jobs then run again) and rerun") from None


def _write_failures(path: Path, failures: dict[str, dict]) -> None:
    """Write `failures` (by job id) to `path` whole; remove it when there are none."""
    if not failures:
        path.unlink(missing_ok=True)
        return
    text = "".join(json.dumps(record) + "\n" for record in failures.values())

    def write(temporary: Path) -> None:
        temporary.write_text(text, encoding="utf-8")

    write_atomically(path, write)


def _failure(job: BatchJob, reason: str) -> dict[str, Any]:
    return {"id": job.id, "where": job.where, "reason": reason, "fingerprint": job.fingerprint,
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def _is_done(job: BatchJob, out: Path) -> bool:
    """Whether `job`'s folder holds a complete output set made with the job's settings."""
    manifest = complete_set(out / job.id)
    return manifest is not None and manifest.get("settings") == job.settings


def _plan(jobs: Iterable[BatchJob], out: Path, failures: dict[str, dict], retry_failed: bool) -> tuple[list[BatchJob], int, int]:
    """The jobs to run now, and how many are done already and how many failed before (and are not retried)."""
    to_run, done, failed_before = [], 0, 0
    for job in jobs:
        if _is_done(job, out):
            failures.pop(job.id, None)
            done += 1
        elif not retry_failed and failures.get(job.id, {}).get("fingerprint") == job.fingerprint:
            failed_before += 1
        else:
            to_run.append(job)
    return to_run, done, failed_before


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise click.ClickException(f"--out {out} is a file; give a folder for the jobs' folders")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise click.ClickException(f"cannot make --out {out}: {error.strerror}; choose another --out") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise click.ClickException(f"cannot write to --out {out}: permission denied; choose another --out")


@click.command()
@click.argument("jobs", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the outputs: each job's files go to OUT/<job id>/, failures to OUT/failures.jsonl.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker actors, each holding the model (loaded once): default one per GPU of the cluster, "
                   "else one per --cpus-per-worker CPUs.")
@click.option("--address", default=None,
              help="Join a running Ray cluster: auto (the one `ray start` made here) or ray://HOST:10001; "
                   "default: start a local one.")
@click.option("--cpus-per-worker", type=click.IntRange(min=1), default=1, show_default=True,
              help="CPUs (torch threads) per worker. A job's bytes depend on its thread count: outputs equal "
                   "`syncmotion motion`'s run with as many threads (OMP_NUM_THREADS).")
@click.option("--gpus-per-worker", type=click.FloatRange(min=0), default=None,
              help="GPUs per worker (fractions share one); default 1 when the cluster has GPUs, else 0.")
@click.option("--retry-failed", is_flag=True, help="Run again the jobs that failed before (listed in OUT/failures.jsonl).")
@click.option("--seconds", default="6", show_default=True, help="Seconds per prompt for JSONL jobs with text and no seconds.")
@generation_options(skip={"device"})
@click.option("--device", default="auto", show_default=True,
              help="torch device of the workers: cpu, cuda, mps, or auto (the GPU Ray gives a worker, else cpu).")
def batch(jobs: Path, out: Path, workers: int | None, address: str | None, cpus_per_worker: int, gpus_per_worker: float | None,
          retry_failed: bool, seconds: str, **params: Any) -> None:
    """Make many motions and wide images: JOBS is a folder of scripts or a JSONL file of jobs; on Ray, resumable."""
    try:
        import ray  # noqa: F401  (only to ask whether it is there: the workers need it)
    except ImportError:
        raise click.ClickException("syncmotion batch runs on Ray, which is not installed: pip install 'syncmotion[batch]'") from None
    check_options(params["formats"], params["smooth"])  # the command's own values first: a line may override them
    ctx = click.get_current_context()
    options = {param.name: param for param in ctx.command.params if param.name is not None and param.name in GENERATION_OPTIONS}
    try:
        batch_jobs = read_jobs(jobs, params, seconds, options, ctx)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    _check_out(out)
    out = out.absolute()
    failures_path = out / FAILURES
    failures = _previous_failures(failures_path)
    to_run, done_before, failed_before = _plan(batch_jobs, out, failures, retry_failed)
    unreadable = [job for job in to_run if job.job is None]
    for job in unreadable:
        failures[job.id] = _failure(job, job.problem or "cannot be read")
    to_run = [job for job in to_run if job.job is not None]
    _write_failures(failures_path, failures)
    click.echo(f"{len(batch_jobs)} jobs: {done_before} done before, {failed_before} failed before"
               f"{' (--retry-failed runs them again)' if failed_before else ''}, {len(unreadable)} unreadable, "
               f"{len(to_run)} to make")
    made = loads = 0
    if to_run:
        made, loads, elapsed = _run(to_run, out, failures, failures_path, workers, address, cpus_per_worker, gpus_per_worker)
        click.echo(f"made {made} of {len(to_run)} in {elapsed:.1f} s ({made / elapsed * 60:.1f} jobs/min), "
                   f"{loads} model load{'s' if loads != 1 else ''}")
    if failures:
        raise click.ClickException(f"{len(failures)} of {len(batch_jobs)} jobs failed; their reasons are in {failures_path}")
    click.echo(f"all {len(batch_jobs)} jobs done in {out}")


class JobWriter:
    """Takes the outcomes of a batch's jobs as they come: writes each job's files as its output set, or its failure."""

    def __init__(self, jobs: list[BatchJob], out: Path, failures: dict[str, dict], failures_path: Path) -> None:
        self.jobs = {job.id: job for job in jobs}
        self.out, self.failures, self.failures_path = out, failures, failures_path
        self.made = self.loads = 0

    @property
    def failed(self) -> int:
        """How many of this run's jobs have failed so far."""
        return sum(1 for job_id in self.jobs if job_id in self.failures)

    def record(self, outcome: Outcome) -> None:
        """Write `outcome`'s files into OUT/<job id>/ whole, or record why there are none."""
        job = self.jobs[outcome.job_id]
        self.loads += outcome.loaded_model
        if outcome.files is not None:
            try:
                with output_set(self.out / job.id, job.settings) as staging:
                    for name, data in outcome.files.items():
                        (staging / name).write_bytes(data)
                self.failures.pop(job.id, None)
                self.made += 1
            except (OSError, ValueError) as error:
                self.failures[job.id] = _failure(job, f"its files could not be written: {error}")
        else:
            self.failures[job.id] = _failure(job, outcome.error or "unknown error")
        _write_failures(self.failures_path, self.failures)


def _run(jobs: list[BatchJob], out: Path, failures: dict[str, dict], failures_path: Path, workers: int | None,
         address: str | None, cpus_per_worker: int, gpus_per_worker: float | None) -> tuple[int, int, float]:
    """Run `jobs` on Ray, writing each one's files as they come; returns how many were made, model loads and seconds."""
    import ray

    from .batch_ray import WorkerPool, cluster_resources, connect

    local_cpus = max(os.cpu_count() or 1, (workers or 1) * cpus_per_worker)
    started_ray = connect(address, local_cpus)
    pool = None
    writer = JobWriter(jobs, out, failures, failures_path)
    started = time.perf_counter()
    try:
        cpus, gpus = cluster_resources()
        gpus_each = gpus_per_worker if gpus_per_worker is not None else (1.0 if gpus > 0 else 0.0)
        if workers is None:
            workers = int(gpus // gpus_each) if gpus_each > 0 else int(cpus // cpus_per_worker)
        workers = max(1, min(workers, len(jobs)))
        where = f"Ray at {address}" if address else "a local Ray cluster" if started_ray else "the running Ray session"
        click.echo(f"{workers} worker{'s' if workers > 1 else ''} on {where}, {cpus_per_worker} CPU"
                   + (f" and {gpus_each:g} GPU" if gpus_each else "") + " each")
        pool = WorkerPool(workers, cpus_per_worker, gpus_each)
        with tqdm(total=len(jobs), unit="job", desc="jobs", dynamic_ncols=True) as bar:
            def record(outcome: Outcome) -> None:
                writer.record(outcome)
                bar.set_postfix(failed=writer.failed, refresh=False)
                bar.update()

            pool.run([(job.id, job.job) for job in jobs if job.job is not None], record, tqdm.write)
    finally:
        if pool is not None:
            pool.close()
        if started_ray:
            ray.shutdown()
    return writer.made, writer.loads, time.perf_counter() - started
