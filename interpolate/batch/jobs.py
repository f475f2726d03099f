"""Batch job files: many renders described in one TOML or CSV file.

TOML: an optional [defaults] table applied to every job, then one [[job]] table per output:

    [defaults]
    checkpoint = "checkpoints/chibi-64.pt"
    preset = "discord-gif"          # a preset (name or .toml path) under the job's own keys
    seconds = 1.5

    [[job]]
    keys = "3,17,42"
    output = "gifs/trio-1.gif"

    [[job]]
    name = "portrait"               # optional; default: the output's file name
    keys = [5, 6, 7]
    preset = "x-gif"
    output = "gifs/trio-2.gif"

CSV: a header row of the same keys, one job per row; empty cells are unset; lists (keys, durations,
a per-key hold) are written '3,17,42' (quoted) or '3 17 42'.

A job whose own values are wrong (unknown key, wrong type, unknown preset) is loaded with `error`
set: it fails with that reason and the others still run. Problems of the whole file (syntax, no
jobs, two jobs writing one output) are errors of the file.

Layering, later wins: RenderOptions defaults < defaults' preset < [defaults] < job's preset < job.
Relative paths (checkpoint, output, W-file keys, base, save_latents, from_latents) are relative to the
job file's folder, so a batch renders the same from any working directory or cluster node.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import WaifuError
from ..options import RenderOptions
from .. import presets as P

PATH_FIELDS = ("checkpoint", "output", "save_latents", "from_latents", "audio")
W_SUFFIXES = (".npy", ".npz")


@dataclass
class Job:
    """One output to render: its position in the file, a name and its complete options."""
    index: int                            # 0-based position in the job file (stable across shards)
    name: str
    options: RenderOptions
    preset: str | None = None
    source: str = ""                      # "job 3 of 'jobs.toml'" (for messages)
    error: str | None = None              # the job's own options are invalid: it fails, the others run

    @property
    def output(self) -> Path:
        return Path(self.options.output)

    @property
    def checkpoint(self) -> str | None:
        return self.options.checkpoint


# --- reading ----------------------------------------------------------------------------------------
def load_jobs(path: str | os.PathLike) -> list[Job]:
    """Read a .toml or .csv job file into checked Jobs (all errors are one line naming file and job)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".toml":
        defaults, tables = _toml_rows(path)
        rows = [(f"job {i + 1} of '{path}'", t, None) for i, t in enumerate(tables)]
    elif suffix == ".csv":
        defaults, rows = {}, [(f"line {n} of '{path}'", t, n) for n, t in _csv_rows(path)]
    else:
        raise WaifuError(f"job file '{path}' must be .toml or .csv, got '{suffix or 'no extension'}'")
    if not rows:
        raise WaifuError(f"job file '{path}' has no jobs; add [[job]] tables (TOML) or rows (CSV)")
    base_dir = path.resolve().parent
    default_values, default_preset, _ = _split(defaults, f"[defaults] of '{path}'")
    jobs = []
    for i, (where, row, line) in enumerate(rows):
        try:
            if line is not None:
                row = {k: from_text(k, v, where) for k, v in row.items()}
            jobs.append(_job(i, where, row, default_values, default_preset, base_dir))
        except WaifuError as err:           # a bad job fails alone; the batch carries on
            output = row.get("output")
            name = str(row.get("name") or (Path(str(output)).name if output else f"job {i + 1}"))
            jobs.append(Job(index=i, name=name, options=RenderOptions(output=str(output or "")), source=where,
                            error=str(err)))
    _check_unique_outputs([j for j in jobs if j.error is None], path)
    return jobs


def _job(i: int, where: str, row: dict, default_values: dict, default_preset: str | None, base_dir: Path) -> Job:
    values, preset, name = _split(row, where)
    ref = lambda p: _preset_ref(p, base_dir) if p else None  # noqa: E731
    opts = P.layered(RenderOptions(), (ref(default_preset), default_values, where), (ref(preset), values, where))
    if "output" not in values and "output" not in default_values:
        raise WaifuError(f"{where} has no 'output'; give each job its own output file")
    opts = absolute_paths(opts, base_dir)
    return Job(index=i, name=name or Path(opts.output).name, options=opts, preset=preset or default_preset,
               source=where)


def _toml_rows(path: Path) -> tuple[dict, list[dict]]:
    data = P.read_toml(path, "job file")
    unknown = set(data) - {"defaults", "job", "jobs"}
    if unknown:
        raise WaifuError(f"job file '{path}' has unknown top-level key(s) {', '.join(sorted(unknown))}; "
                         f"use a [defaults] table and [[job]] tables")
    defaults = data.get("defaults", {})
    rows = data.get("job", data.get("jobs", []))
    if not isinstance(defaults, dict):
        raise WaifuError(f"'defaults' in '{path}' must be a table: [defaults]")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise WaifuError(f"jobs in '{path}' must be tables: [[job]] followed by key = value lines")
    return defaults, rows


def _csv_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line number, {column: cell text}) for every non-empty row; empty cells are left out."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames:
                return []
            rows = []
            for n, raw in enumerate(reader, start=2):
                if None in raw:
                    raise WaifuError(f"line {n} of '{path}' has more cells than the header; quote values "
                                     f"that contain commas (\"3,17,42\")")
                row = {k.strip(): v.strip() for k, v in raw.items() if k and v is not None and v.strip() != ""}
                if row:
                    rows.append((n, row))
            return rows
    except FileNotFoundError:
        raise WaifuError(f"job file '{path}' not found; check the path") from None
    except UnicodeDecodeError:
        raise WaifuError(f"job file '{path}' is not UTF-8 text; save it as UTF-8 CSV") from None


def _split(table: dict, where: str) -> tuple[dict[str, Any], str | None, str | None]:
    """A job table -> (checked RenderOptions values, preset reference, name)."""
    table = dict(table)
    preset, name = table.pop("preset", None), table.pop("name", None)
    table.pop("description", None)
    values = P.check_values(table, where)
    if preset is not None and not isinstance(preset, str):
        raise WaifuError(f"'preset' in {where} must be a preset name or .toml path (a string), got {preset!r}")
    if name is not None and not isinstance(name, (str, int)):
        raise WaifuError(f"'name' in {where} must be a string, got {name!r}")
    return values, preset, None if name is None else str(name)


def _preset_ref(ref: str, base_dir: Path) -> str:
    """A preset path in a job file is relative to the job file; names stay names."""
    if (ref.endswith(P.SUFFIX) or os.sep in ref) and not os.path.isabs(os.path.expanduser(ref)):
        return str(base_dir / ref)
    return ref


_HINTS = typing.get_type_hints(RenderOptions)


def from_text(key: str, text: str, where: str) -> Any:
    """A CSV cell -> the Python value its RenderOptions field expects (then type-checked as TOML is)."""
    name = key.replace("-", "_")
    hint = _HINTS.get(name, str)
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    target = args[0]
    if name == "keys":
        return text
    lists = [a for a in args if typing.get_origin(a) is list]
    tokens = text.replace(",", " ").split()
    if lists and (typing.get_origin(target) is list or len(tokens) > 1):     # 'hold' 0.5 or '0,1.5,0'
        return [from_text_scalar(_first(typing.get_args(lists[0])[0]), t, key, where) for t in tokens]
    return from_text_scalar(target, text, key, where)


def _first(hint):
    """The first non-None type of a union (list items like str | float are read as the first)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint


def from_text_scalar(target, text: str, key: str, where: str) -> Any:
    try:
        if target is bool:
            low = text.lower()
            if low in ("true", "yes", "1", "on"):
                return True
            if low in ("false", "no", "0", "off"):
                return False
            raise ValueError
        if target is int:
            return int(text)
        if target is float:
            return float(text)
    except ValueError:
        kind = {bool: "true or false", int: "an integer", float: "a number"}[target]
        raise WaifuError(f"'{key}' in {where} must be {kind}, got '{text}'") from None
    return text


def absolute_paths(opts: RenderOptions, base_dir: Path) -> RenderOptions:
    """Relative file paths in `opts` made absolute against `base_dir` (the job or reel file's folder)."""
    def fix(p: str | None) -> str | None:
        if p is None:
            return None
        p = os.path.expanduser(str(p))
        return p if os.path.isabs(p) else str(base_dir / p)

    def fix_key(token: str) -> str:
        parts = []
        for t in str(token).split(","):
            t = t.strip()
            parts.append(fix(t) if t.lower().endswith(W_SUFFIXES) else t)
        return ",".join(parts)

    changes = {name: fix(getattr(opts, name)) for name in PATH_FIELDS}
    changes["keys"] = [fix_key(k) for k in opts.keys]
    if opts.base is not None and str(opts.base).lower().endswith(W_SUFFIXES):
        changes["base"] = fix(opts.base)
    return dataclasses.replace(opts, **changes)


def _check_unique_outputs(jobs: list[Job], path: Path) -> None:
    seen: dict[str, Job] = {}
    for job in jobs:
        key = os.path.normcase(os.path.abspath(job.options.output))
        if key in seen:
            raise WaifuError(f"{job.source} and {seen[key].source} both write '{job.options.output}'; "
                             f"give each job its own output")
        seen[key] = job


# --- shards ---------------------------------------------------------------------------------------
def parse_shard(text: str | None) -> tuple[int, int] | None:
    """'I/N' -> (I, N) with 0 <= I < N: this process renders jobs I, I+N, I+2N, ... (job arrays)."""
    if text is None or str(text).strip() == "":
        return None
    try:
        i_text, n_text = str(text).split("/")
        i, n = int(i_text), int(n_text)
    except ValueError:
        raise WaifuError(f"--shard must be I/N (e.g. 0/4: jobs 0, 4, 8, ... of 4 shards), got '{text}'") from None
    if n < 1 or not 0 <= i < n:
        raise WaifuError(f"--shard {text}: I counts from 0 to N-1 (e.g. $SLURM_ARRAY_TASK_ID/4), "
                         f"so use 0/{max(n, 1)} to {max(n, 1) - 1}/{max(n, 1)}")
    return i, n


def shard(jobs: list[Job], which: tuple[int, int] | None) -> list[Job]:
    """Every N-th job starting at I, by position in the job file."""
    if which is None:
        return list(jobs)
    i, n = which
    return [job for job in jobs if job.index % n == i]


def by_checkpoint(jobs: list[Job]) -> list[tuple[str | None, list[Job]]]:
    """Jobs grouped by checkpoint, groups in order of first appearance (each loaded once)."""
    groups: dict[str | None, list[Job]] = {}
    for job in jobs:
        groups.setdefault(job.checkpoint, []).append(job)
    return list(groups.items())
