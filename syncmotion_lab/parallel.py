"""One function over many jobs in worker processes, in order, with a progress bar (corpus drawing, text embedding)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any

import torch
from tqdm import tqdm


def in_processes(function: Callable[[Any], Any], jobs: list, workers: int, desc: str) -> list:
    """`function` over `jobs` in order, in `workers` processes (1: this one), with a progress bar."""
    if workers <= 1:
        return [function(job) for job in tqdm(jobs, desc=desc)]
    # Spawned, not forked: a child forked from a process whose OpenMP threads have run (torch's, after any parallel
    # op) can hang on their locks; test_train_embedded's workers did so once, in a test session that had used torch.
    # One torch thread per process: a pool of processes each running a full set of threads is slower than one process.
    with multiprocessing.get_context("spawn").Pool(workers, initializer=torch.set_num_threads, initargs=(1,)) as pool:
        return list(tqdm(pool.imap(function, jobs, chunksize=64), total=len(jobs), desc=desc))
