"""One clip across workers: render frame ranges of one planned clip into part files, then join them.

    waifu-morph render ... --shard 0/3 -o clip.mp4   # frames [0, F/3) -> clip.part-0-of-3.mp4 (+ .json)
    waifu-morph render ... --shard 1/3 -o clip.mp4   # ... each worker loads the model once
    waifu-morph render ... --shard 2/3 -o clip.mp4   # the last part to finish joins them: clip.mp4
    waifu-morph join clip.part-*-of-3.mp4 -o clip.mp4   # or join by hand

Shard I of N renders frames [I*F//N, (I+1)*F//N) of the clip the same options plan without --shard,
each frame in the same synthesis batch as a render of the whole clip (render_paths(span=...): a part
that starts inside a batch synthesizes that whole batch and keeps its own frames, at most two batches
of extra work per part), so the frames are the same bits as one render's. Each part's
sidecar records the shard and a plan hash (options, checkpoint SHA-256, the path, frame count): the
join refuses parts of another plan, a missing or repeated part, or a part whose frame count is off.

MP4: every part is its own x264 (or NVENC) stream, so it starts with an IDR frame and its GOPs are
closed; the join is ffmpeg's concat demuxer with stream copy (no re-encode), so every part must come
from the same encoder (each part's sidecar names it; --encoder auto may choose differently per worker). The joined file has exactly F frames
in order; it differs from one-pass x264 only in the rate control and references around the seams
(x264 cannot reference across parts), which is visually seamless (tests check PSNR at the seams).
PNG frames: the parts are folders; the join renumbers them into the output: pixel-identical to one
render. GIF and WebP need the whole clip at once (one palette, one animation) and are refused; so is
--audio (render the video in shards, then add the song with ffmpeg) and --max-size.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import WaifuError
from ..files import atomic_write
from .sidecar import _jsonable, read_sidecar_file, sidecar_path
from .target import OutputTarget

SHARDABLE = ("mp4", "frames")
# options that do not change the frames (where they go, how they are computed, what is printed)
UNPLANNED = ("output", "overwrite", "quiet", "device", "batch_size", "sidecar", "checkpoint")


# --- shard specs and names ---------------------------------------------------------------------------
def parse_shard(text: str) -> tuple[int, int]:
    """'1/4' -> (1, 4): shard I (from 0) of N."""
    try:
        i, n = (int(t) for t in str(text).split("/"))
    except ValueError:
        raise WaifuError(f"--shard must be I/N (e.g. 0/4 for the first of 4 parts), got '{text}'") from None
    if n < 1 or not 0 <= i < n:
        raise WaifuError(f"--shard {text}: I counts from 0 to N-1 (e.g. $SLURM_ARRAY_TASK_ID/{max(n, 1)}), N at least 1")
    return i, n


def shard_range(i: int, n: int, total: int) -> tuple[int, int]:
    return i * total // n, (i + 1) * total // n


def part_output(output: str, i: int, n: int) -> str:
    """'clip.mp4' -> 'clip.part-1-of-3.mp4'; frames ('frames/' or 'out/%05d.png') -> the folder
    'frames.part-1-of-3' beside the output folder."""
    target = OutputTarget.plan(output, overwrite=True, create=False)
    tag = f".part-{i}-of-{n}"
    if target.kind == "frames":
        return str(target.final) + tag + "/"
    final = str(target.final)
    stem, ext = os.path.splitext(final)
    return stem + tag + ext


def plan_hash(G, opts, paths) -> str:
    """What the frames depend on: the options that plan them, the checkpoint, the planned path(s)."""
    recipe = {k: v for k, v in opts.to_dict().items() if k not in UNPLANNED}
    info = getattr(G, "checkpoint_info", None)
    data = {"recipe": recipe, "checkpoint": getattr(info, "sha256", None), "frames": paths[0].num_frames,
            "paths": [p.describe() for p in paths]}
    text = json.dumps(data, sort_keys=True, default=_jsonable)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- parts on disk -----------------------------------------------------------------------------------
@dataclass
class Part:
    path: str
    index: int
    count: int
    start: int
    stop: int
    total: int
    plan: str
    sidecar: dict


def read_part(path: str) -> Part:
    """A part file (or folder) and its sidecar's shard record; one-line errors for anything else."""
    p = str(path).rstrip("/" + os.sep)
    if not os.path.exists(p):
        raise WaifuError(f"part '{p}' does not exist; render it with --shard I/N first")
    side = sidecar_path(p)
    if not side.is_file():
        raise WaifuError(f"part '{p}' has no sidecar '{side.name}' (it records the shard); render it again with --shard")
    data = read_sidecar_file(side)
    shard = data.get("shard")
    if not isinstance(shard, dict):
        raise WaifuError(f"'{p}' is not a part of a sharded render (its sidecar has no shard record)")
    try:
        return Part(p, int(shard["index"]), int(shard["count"]), int(shard["start"]), int(shard["stop"]),
                    int(shard["total"]), str(shard["plan"]), data)
    except (KeyError, TypeError, ValueError):
        raise WaifuError(f"the shard record of '{side.name}' is damaged; render part '{p}' again") from None


def check_parts(parts: list[Part]) -> list[Part]:
    """Parts of one plan, each index once, covering the clip: sorted by index."""
    if not parts:
        raise WaifuError("join needs the part files of a --shard render")
    first = parts[0]
    for part in parts:
        if part.plan != first.plan:
            raise WaifuError(f"'{part.path}' belongs to another render than '{first.path}' (plan hash "
                             f"{part.plan[:12]} != {first.plan[:12]}); render every part with the same options")
        if part.count != first.count:
            raise WaifuError(f"'{part.path}' is a part of {part.count}, '{first.path}' of {first.count}")
    by_index = {}
    for part in parts:
        if part.index in by_index:
            raise WaifuError(f"part {part.index} of {first.count} is given twice ('{by_index[part.index].path}', '{part.path}')")
        by_index[part.index] = part
    missing = [i for i in range(first.count) if i not in by_index]
    if missing:
        raise WaifuError(f"missing part{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))} of {first.count}; "
                         f"render {'them' if len(missing) > 1 else 'it'} with --shard I/{first.count}")
    ordered = [by_index[i] for i in range(first.count)]
    used = [(part.sidecar.get("output") or {}).get("encoder") for part in ordered]   # MP4: libx264, h264_nvenc, ...
    if len(set(used)) > 1:       # --encoder auto chose differently on other workers: one stream cannot hold both
        which = ", ".join(f"part {p.index}: {u}" for p, u in zip(ordered, used))
        raise WaifuError(f"the parts were encoded by different encoders ({which}); render them again with the same "
                         f"--encoder (x264 or nvenc)")
    for part in ordered:
        frames = (part.sidecar.get("output") or {}).get("frames")
        if (part.start, part.stop) != shard_range(part.index, part.count, part.total) or frames != part.stop - part.start:
            raise WaifuError(f"part '{part.path}' holds {frames} frames, not frames {part.start}-{part.stop - 1}; render it again")
    return ordered


def record_shard(part_path: str, i: int, n: int, start: int, stop: int, total: int, plan: str) -> None:
    """Add the shard record to the sidecar render_paths wrote beside a part."""
    side = sidecar_path(part_path)
    data = json.loads(side.read_text(encoding="utf-8"))
    data["shard"] = {"index": i, "count": n, "start": start, "stop": stop, "total": total, "plan": plan}
    with atomic_write(side, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, default=_jsonable)
        f.write("\n")


def complete_part(path: str, plan: str, i: int, n: int) -> bool:
    """Is this part already rendered, for this plan? (a job array's retry skips it)"""
    try:
        part = read_part(path)
    except WaifuError:
        return False
    return part.plan == plan and (part.index, part.count) == (i, n)


# --- joining ------------------------------------------------------------------------------------------
def join_parts(part_paths: list[str], output: str, overwrite: bool = False) -> dict:
    """Join the parts of one sharded render into `output` (written atomically) with one sidecar for
    the whole clip; returns that sidecar's 'output' record."""
    from .ffmpeg import run_ffmpeg

    parts = check_parts([read_part(p) for p in part_paths])
    kind = parts[0].sidecar.get("output", {}).get("kind")
    target = OutputTarget.plan(output, overwrite=overwrite)
    if target.kind != kind:
        raise WaifuError(f"the parts are {kind}; join them into {'a .mp4' if kind == 'mp4' else 'a folder'}, not '{output}'")
    try:
        target.open()
        if kind == "mp4":
            with tempfile.NamedTemporaryFile("w", suffix=".txt", dir=os.path.dirname(target.tmp), delete=False) as f:
                listing = f.name
                for part in parts:
                    f.write("file '" + os.path.abspath(part.path).replace("'", "'\\''") + "'\n")
            try:
                run_ffmpeg(["-f", "concat", "-safe", "0", "-i", listing, "-map", "0:v", "-c", "copy",
                            "-movflags", "+faststart", "-f", "mp4", target.tmp], str(target.final))
            finally:
                os.unlink(listing)
        else:
            index = 0
            for part in parts:
                for name in sorted(os.listdir(part.path)):
                    shutil.copyfile(os.path.join(part.path, name), os.path.join(target.tmp, target.pattern % index))
                    index += 1
            if index != parts[0].total:
                raise WaifuError(f"the part folders hold {index} frames, the clip has {parts[0].total}; render them again")
        target.commit()
    except BaseException:
        target.abort()
        raise
    return _write_joined_sidecar(target, parts)


def _write_joined_sidecar(target: OutputTarget, parts: list[Part]) -> dict:
    data = json.loads(json.dumps(parts[0].sidecar))
    out = data.get("output", {})
    total = parts[0].total
    fps = float(out.get("fps") or 30.0)
    out.update(frames=total, duration=total / fps, bytes=target.size_bytes(),
               notes=[n for p in parts for n in p.sidecar.get("output", {}).get("notes", [])])
    data["output"] = out
    data["options"]["output"] = str(target.output)
    data["joined"] = {"parts": len(parts), "plan": parts[0].plan}
    data.pop("shard", None)
    with atomic_write(sidecar_path(target.output), "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, default=_jsonable)
        f.write("\n")
    return out


def joined_already(output: str, plan: str) -> bool:
    side = sidecar_path(output)
    if not side.is_file() or not os.path.exists(output):
        return False
    try:
        return (read_sidecar_file(side).get("joined") or {}).get("plan") == plan
    except WaifuError:
        return False


def part_paths(output: str, n: int) -> list[str]:
    return [part_output(output, i, n) for i in range(n)]


def check_shardable(kind: str, opts) -> None:
    if kind not in SHARDABLE:
        raise WaifuError(f"--shard/--ray render MP4 or PNG frames (a {kind.upper()} needs the whole clip at once: "
                         f"one palette); render an .mp4 in parts, then convert it")
    if getattr(opts, "audio", None):
        raise WaifuError("--shard/--ray cannot add --audio; render the video in parts, then mux the song with ffmpeg")
    if getattr(opts, "max_size", None):
        raise WaifuError("--shard/--ray cannot aim at --max-size (the budget is for the whole file); drop one of them")


def remove_parts(paths: list[str]) -> None:
    for p in paths:
        side = sidecar_path(p)
        if os.path.isdir(p):
            shutil.rmtree(p, ignore_errors=True)
        elif os.path.exists(p):
            os.unlink(p)
        if side.exists():
            side.unlink()


__all__ = ["parse_shard", "shard_range", "part_output", "plan_hash", "read_part", "check_parts",
           "join_parts", "joined_already", "part_paths", "check_shardable", "complete_part", "record_shard",
           "remove_parts", "Path"]
