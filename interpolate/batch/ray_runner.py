"""Run batch jobs on a Ray cluster (optional extra: pip install 'waifu-morph[ray]').

    waifu-morph batch jobs.toml --ray auto            # the cluster `ray start` made on this node
    waifu-morph batch jobs.toml --ray ray://head:10001

One worker (a Ray actor) per GPU of the cluster, each holding one GPU; on a cluster without GPUs, one
per CPU (at most one per job). A worker keeps the last checkpoint it loaded, and jobs are handed out
sorted by checkpoint, so each worker loads each model once. Every job runs through the same code as
a local batch (skip when complete, failures isolated), and writes where the job says: paths in a job
file are made absolute, so the folders must be shared by the nodes.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..raycluster import connect, plan_workers
from .jobs import Job
from .runner import JobResult, run_jobs


class BatchWorker:
    """Runs jobs one at a time, keeping the last loaded model (so each checkpoint loads once here)."""

    def __init__(self, device: str | None = None):
        self.device = device
        self.checkpoint: object = object()      # sentinel: nothing loaded yet
        self.G = None
        self.loads = 0

    def _load(self, checkpoint, device):
        if checkpoint != self.checkpoint:
            from . import render_api

            self.G = None                       # free the previous model first
            self.G = render_api.load_model(checkpoint, device)
            self.checkpoint = checkpoint
            self.loads += 1
        return self.G

    def run(self, job: Job, overwrite: bool) -> JobResult:
        (result,) = run_jobs([job], quiet=True, overwrite=overwrite, device=self.device, load=self._load)
        return result

    def stats(self) -> dict:
        import os

        return {"pid": os.getpid(), "loads": self.loads}


def run_jobs_on_ray(jobs: list[Job], *, address: str = "auto", overwrite: bool = False, device: str | None = None,
                    console: Console | None = None, quiet: bool = False, stats: list | None = None,
                    worker_class: type = BatchWorker) -> list[JobResult]:
    """Run `jobs` on the Ray cluster at `address` (reusing a Ray already initialised in this process).

    `stats`, when given, receives each worker's {'pid', 'loads'}; `worker_class` lets tests swap the model.
    """
    ray = connect(address)
    console = console or Console(stderr=True)
    count, actor_options = plan_workers(ray.cluster_resources(), len(jobs))
    Worker = ray.remote(**actor_options)(worker_class)
    workers = [Worker.remote(device) for _ in range(count)]
    from ray.util import ActorPool

    pool = ActorPool(workers)
    ordered = sorted(jobs, key=lambda j: (str(j.checkpoint), j.index))     # same model -> same worker, in a row
    results: dict[int, JobResult] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, disable=quiet) as progress:
        bar = progress.add_task(f"jobs on {count} Ray worker{'s' if count > 1 else ''}", total=len(jobs))
        for result in pool.map_unordered(lambda w, job: w.run.remote(job, overwrite), ordered):
            results[result.index] = result
            progress.advance(bar)
    if stats is not None:
        stats.extend(ray.get([w.stats.remote() for w in workers]))
    for w in workers:
        ray.kill(w)
    return [results[job.index] for job in jobs]
