"""Run batch jobs on this machine: each checkpoint loaded once, finished outputs skipped, failures isolated.

    results = run_jobs(jobs, console=console)        # jobs: interpolate.batch.jobs.load_jobs(...)
    print_summary(results, console)                  # a table; any failed -> the CLI exits 1

A job is skipped when its output exists complete: outputs are only ever renamed into place when
finished, so an existing output is complete; with a sidecar it must also describe the same render
(same options and checkpoint), else the job fails asking for --overwrite rather than guess.
"""

from __future__ import annotations

import gc
import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.markup import escape
from rich.table import Table

from ..errors import WaifuError
from ..options import RenderOptions
from .jobs import Job, by_checkpoint

# options that change how a render runs, not what it writes: ignored when matching a sidecar
RUN_ONLY_FIELDS = ("device", "precision", "overwrite", "quiet", "batch_size", "sidecar")


@dataclass
class JobResult:
    index: int
    name: str
    output: str
    status: str                    # 'done' | 'skipped' | 'failed' ('todo' in a dry run)
    reason: str = ""
    frames: int = 0
    seconds: float = 0.0           # wall time of this job
    size: int = 0                  # bytes of the output

    @property
    def failed(self) -> bool:
        return self.status == "failed"


# --- resume -----------------------------------------------------------------------------------------
def completed(opts: RenderOptions) -> tuple[bool, str]:
    """(True, why) when opts.output exists complete and matches; (False, why not) otherwise.

    Matching: the sidecar records the same options (those that change the output) and, when it
    records the checkpoint's SHA-256, the checkpoint file still has it (a retrained model re-renders).
    Raises WaifuError when the output exists but was made otherwise (never overwritten silently; the
    batch's --overwrite re-renders it).
    """
    from . import render_api

    out = Path(opts.output)
    if not out.exists():
        return False, "missing"
    if not opts.sidecar:
        return True, "exists"
    sidecar = render_api.read_sidecar(out)
    recorded = sidecar.get("options") if sidecar else None
    if not isinstance(recorded, dict):
        if opts.overwrite:
            return False, "no sidecar"
        raise WaifuError(f"'{out}' exists without its sidecar, so it cannot be checked; delete it or pass --overwrite")
    diff = [k for k, v in opts.to_dict().items() if k not in RUN_ONLY_FIELDS and k in recorded and recorded[k] != v
            and not (k == "encoder" and (v == "auto" or (sidecar.get("output") or {}).get("kind") != "mp4"))]
    # ^ an MP4's sidecar records the encoder auto chose (render/codecs.py); other formats have none
    sha = render_api.sidecar_checkpoint_sha256(sidecar)
    if sha and opts.checkpoint and os.path.isfile(opts.checkpoint) and sha != checkpoint_sha256(opts.checkpoint):
        diff.append("the checkpoint's content")
    if diff:
        if opts.overwrite:
            return False, "changed"
        raise WaifuError(f"'{out}' exists from other options ({', '.join(sorted(diff)[:4])} differ); "
                         f"delete it or pass --overwrite to render it again")
    return True, "complete"


_SHA_CACHE: dict[tuple, str] = {}


def checkpoint_sha256(path: str) -> str:
    """SHA-256 of a file (interpolate.files.sha256_file), computed once per (path, size, mtime) in this process."""
    from ..files import sha256_file

    st = os.stat(path)
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        _SHA_CACHE[key] = sha256_file(path)
    return _SHA_CACHE[key]


# --- running ----------------------------------------------------------------------------------------
def run_jobs(jobs: list[Job], *, console: Console | None = None, quiet: bool = False, overwrite: bool = False,
             device: str | None = None, load: Callable | None = None, render: Callable | None = None,
             ) -> list[JobResult]:
    """Render `jobs` here, one checkpoint at a time (loaded once, freed after its last job).

    `load(checkpoint, device) -> G` and `render(G, opts, on_frames) -> frames` default to the project's
    loader and renderer (injected by tests and the Ray worker).
    """
    from . import render_api

    load = load or render_api.load_model
    render = render or render_api.render_options
    console = console or Console(stderr=True)
    results: dict[int, JobResult] = {}
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                        console=console, disable=quiet, transient=False)
    with progress:
        job_bar = progress.add_task("jobs", total=len(jobs), rate="")
        frame_bar = progress.add_task("frames", total=None, rate="")
        for checkpoint, group in by_checkpoint(jobs):
            todo = _triage(group, results, overwrite, device)
            progress.advance(job_bar, len(group) - len(todo))
            if not todo:
                continue
            try:
                G = load(checkpoint, todo[0][1].device)      # --device, else the first job's choice
            except Exception as err:            # noqa: BLE001 (a broken checkpoint fails its jobs only)
                for job, _ in todo:
                    results[job.index] = _result(job, "failed", _reason(err))
                    progress.advance(job_bar)
                continue
            for job, opts in todo:
                progress.update(job_bar, description=f"jobs [dim]{job.name}[/]")
                progress.reset(frame_bar, total=None)
                started = time.perf_counter()

                def on_frames(n: int, total: int | None = None, _started=started) -> None:
                    if total is not None:
                        progress.update(frame_bar, total=total)
                    progress.advance(frame_bar, n)
                    done = progress.tasks[frame_bar].completed
                    progress.update(frame_bar, rate=f"{done / max(time.perf_counter() - _started, 1e-9):.1f} fps")

                try:
                    Path(opts.output).parent.mkdir(parents=True, exist_ok=True)
                    frames = render(G, opts, on_frames)
                    results[job.index] = _result(job, "done", "", frames=int(frames or 0),
                                                 seconds=time.perf_counter() - started, size=_size(opts.output))
                except KeyboardInterrupt:
                    raise
                except Exception as err:        # noqa: BLE001 (failures are isolated per job)
                    results[job.index] = _result(job, "failed", _reason(err), seconds=time.perf_counter() - started)
                progress.advance(job_bar)
            del G
            gc.collect()
    return [results[job.index] for job in jobs]


def plan_jobs(jobs: list[Job], *, overwrite: bool = False, load: Callable | None = None,
              check: Callable | None = None) -> list[JobResult]:
    """What a run would do, rendering nothing: 'todo', 'skipped' or 'failed' per job. Each checkpoint
    with jobs to do is loaded once (on the CPU) and every such job is validated and planned as a render
    would (unknown style, bad W file, unwritable output ... fail here, not later)."""
    from . import render_api

    load = load or render_api.load_model
    check = check or render_api.check_options
    results: dict[int, JobResult] = {}
    for checkpoint, group in by_checkpoint(jobs):
        todo = _triage(group, results, overwrite, None)
        if not todo:
            continue
        try:
            G = load(checkpoint, "cpu")
        except Exception as err:            # noqa: BLE001 (a broken checkpoint fails its jobs only)
            for job, _ in todo:
                results[job.index] = _result(job, "failed", _reason(err))
            continue
        for job, opts in todo:
            try:
                check(G, opts)
                results[job.index] = _result(job, "todo", "")
            except Exception as err:        # noqa: BLE001 (each job is judged alone)
                results[job.index] = _result(job, "failed", _reason(err))
        del G
    return [results[job.index] for job in jobs]


def _triage(group: list[Job], results: dict[int, JobResult], overwrite: bool, device: str | None) -> list:
    """Record the jobs that fail before loading (their own options, an output made otherwise) or are
    complete in `results`; return (job, options) for the rest."""
    todo = []
    for job in group:
        if job.error is not None:
            results[job.index] = _result(job, "failed", job.error)
            continue
        opts = _prepared(job, overwrite, device)
        try:
            done, _ = completed(opts)
        except WaifuError as err:
            results[job.index] = _result(job, "failed", str(err))
            continue
        if done:
            results[job.index] = _result(job, "skipped", "already complete", size=_size(opts.output))
        else:
            todo.append((job, opts))
    return todo


def _prepared(job: Job, overwrite: bool, device: str | None) -> RenderOptions:
    changes: dict = {"quiet": True}
    if overwrite:
        changes["overwrite"] = True
    if device is not None:
        changes["device"] = device
    return job.options.updated(changes)


def _result(job: Job, status: str, reason: str, **kw) -> JobResult:
    return JobResult(index=job.index, name=job.name, output=str(job.options.output), status=status, reason=reason, **kw)


def _reason(err: BaseException) -> str:
    """One line: a WaifuError's message, else the exception type, message and where it was raised."""
    if isinstance(err, WaifuError):
        return str(err)
    tb = traceback.extract_tb(err.__traceback__)
    where = f" ({os.path.basename(tb[-1].filename)}:{tb[-1].lineno})" if tb else ""
    return " ".join(f"{type(err).__name__}: {err}{where}".split())


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


# --- summary ----------------------------------------------------------------------------------------
def summary_table(results: list[JobResult], dry_run: bool = False) -> Table:
    counts = {s: sum(r.status == s for r in results) for s in ("done", "todo", "skipped", "failed")}
    head = f"{counts['todo']} to render" if dry_run else f"{counts['done']} rendered"
    table = Table(title=f"batch: {head}, {counts['skipped']} skipped, {counts['failed']} failed", title_justify="left")
    for col, kw in (("#", {"justify": "right"}), ("job", {}), ("status", {}), ("frames", {"justify": "right"}),
                    ("time", {"justify": "right"}), ("size", {"justify": "right"}),
                    ("output / reason", {"overflow": "fold"})):
        table.add_column(col, **kw)
    style = {"done": "green", "todo": "yellow", "skipped": "dim", "failed": "bold red"}
    for r in results:
        table.add_row(str(r.index + 1), escape(r.name), f"[{style[r.status]}]{r.status}[/]", str(r.frames) if r.frames else "",
                      f"{r.seconds:.1f} s" if r.seconds else "", _human(r.size) if r.size else "",
                      escape(r.reason if r.failed else _short(r.output)))
    return table


def print_summary(results: list[JobResult], console: Console, dry_run: bool = False) -> None:
    """The table, then one unwrapped line per failed job (easy to grep in a cluster log)."""
    console.print(summary_table(results, dry_run))
    for r in results:
        if r.failed:
            console.print(f"[bold red]failed[/] job {r.index + 1} ({escape(r.name)}): {escape(r.reason)}",
                          soft_wrap=True, highlight=False)


def _short(path: str) -> str:
    """A path relative to the working directory when it is below it."""
    try:
        return os.path.relpath(path) if not os.path.relpath(path).startswith("..") else path
    except ValueError:
        return path


def _human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


# --- the `batch` command ----------------------------------------------------------------------------
def run_batch_file(jobs_file, *, shard: str | None = None, ray: str | None = None, overwrite: bool = False,
                   device: str | None = None, quiet: bool = False, dry_run: bool = False,
                   console: Console | None = None) -> int:
    """Load, shard and run a job file here or on Ray; print the summary; 0 when no job failed, else 1."""
    from .jobs import load_jobs, parse_shard, shard as pick

    console = console or Console(stderr=True)
    jobs = pick(load_jobs(jobs_file), parse_shard(shard))
    if not jobs:
        console.print(f"shard {shard} of '{jobs_file}' has no jobs; nothing to do")
        return 0
    if dry_run:
        results = plan_jobs(jobs, overwrite=overwrite)
    elif ray:
        from .ray_runner import run_jobs_on_ray

        results = run_jobs_on_ray(jobs, address=ray, overwrite=overwrite, device=device, console=console, quiet=quiet)
    else:
        results = run_jobs(jobs, console=console, quiet=quiet, overwrite=overwrite, device=device)
    print_summary(results, Console(), dry_run)   # the result goes to stdout, progress to stderr
    return 1 if any(r.failed for r in results) else 0
