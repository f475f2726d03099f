"""Render one shard of a clip (`render --shard I/N`), and the whole clip split across Ray workers
(`render --ray auto`). The parts and the join are render/shards.py.

A job array runs `render ... --shard $TASK/N -o clip.mp4` in every task: each task renders its frames
into its part (skipped when a retry finds it complete), and the task that finds all N parts complete
joins them into clip.mp4 (several finishing at once write the same bytes, atomically; one that finds
the clip joined from the same plan leaves it). The parts stay; `waifu-morph join --remove-parts`
joins by hand and removes them.
"""

from __future__ import annotations

import dataclasses
import os

from ..errors import WaifuError
from ..options import RenderOptions
from . import shards


def _say(console, opts: RenderOptions, text: str) -> None:
    if console is not None and not opts.quiet:
        from rich.markup import escape

        console.print(escape(text), highlight=False, soft_wrap=True)


def render_shard(opts: RenderOptions, shard: tuple[int, int], console=None, sidecar_data: dict | None = None,
                 auto_join: bool = True, G=None) -> str:
    """Render shard (I, N) of opts' clip into its part; join when every part is there. Returns the part.
    `G`: the generator already loaded from opts.checkpoint on opts.device (a Ray worker's)."""
    from ..device import pick_device
    from ..loading import load_generator
    from .pipeline import resolve_precision
    from .sidecar import check_checkpoint_matches
    from .video import check_output_options, default_checkpoint, plan_render, render_paths

    i, n = shard
    check = check_output_options(dataclasses.replace(opts, overwrite=True))   # format and flags, before loading
    shards.check_shardable(check.kind, opts)
    part = shards.part_output(opts.output, i, n)
    device = pick_device(opts.device)
    resolve_precision(opts.precision, device)
    if G is None:
        G = load_generator(opts.checkpoint or default_checkpoint(), device=device)
    if sidecar_data is not None:
        check_checkpoint_matches(sidecar_data, G)
    paths, cols, rows = plan_render(G, opts)
    total = paths[0].num_frames
    if n > total:
        raise WaifuError(f"--shard {i}/{n}: the clip has {total} frames, so at most {total} parts")
    plan = shards.plan_hash(G, opts, paths)
    if shards.joined_already(opts.output, plan):
        _say(console, opts, f"{opts.output} is already joined from this render's parts; nothing to do")
        return part
    if not opts.overwrite:
        check_output_options(opts)                 # the clip must not replace a file without -y
    start, stop = shards.shard_range(i, n, total)
    if shards.complete_part(part, plan, i, n):
        _say(console, opts, f"{part} (frames {start}-{stop - 1}) is already rendered")
    else:
        part_opts = dataclasses.replace(opts, output=part, overwrite=True, sidecar=True)
        result = render_paths(G, paths, part_opts.output_spec(), device=opts.device_spec(), recipe=opts.to_dict(),
                              cols=cols, rows=rows, console=console, span=(start, stop))
        shards.record_shard(part, i, n, start, stop, total, plan)
        _say(console, opts, f"part {i} of {n}: frames {start}-{stop - 1}; " + result.summary())
    if auto_join:
        _join_when_complete(opts, n, plan, console)
    return part


def _join_when_complete(opts: RenderOptions, n: int, plan: str, console) -> None:
    paths = shards.part_paths(opts.output, n)
    if not all(shards.complete_part(p, plan, i, n) for i, p in enumerate(paths)):
        missing = [str(i) for i, p in enumerate(paths) if not shards.complete_part(p, plan, i, n)]
        _say(console, opts, f"waiting for part{'s' if len(missing) > 1 else ''} {', '.join(missing)} of {n}; "
                            f"the last part to finish joins {opts.output}")
        return
    try:
        shards.join_parts(paths, opts.output, overwrite=opts.overwrite)
    except WaifuError:
        if shards.joined_already(opts.output, plan):      # another part finished at the same time
            return
        raise
    _say(console, opts, f"joined {n} parts into {opts.output}")


# --- Ray ----------------------------------------------------------------------------------------------
class ShardWorker:
    """A Ray actor: tells the clip's frame count, renders shards (the model is loaded once per worker)."""

    def __init__(self):
        self._G, self._key = None, None

    def _generator(self, opts: RenderOptions):
        from ..device import pick_device
        from ..loading import load_generator

        key = (opts.checkpoint, opts.device)
        if self._key != key:
            self._G, self._key = load_generator(opts.checkpoint, device=pick_device(opts.device)), key
        return self._G

    def frames(self, options: dict) -> int:
        """The number of frames of the clip the options plan."""
        from .video import plan_render

        opts = RenderOptions.from_dict(options, source="the Ray driver")
        paths, _, _ = plan_render(self._generator(opts), opts)
        return paths[0].num_frames

    def run(self, options: dict, i: int, n: int) -> str:
        opts = RenderOptions.from_dict(options, source="the Ray driver")
        return render_shard(opts, (i, n), console=None, auto_join=False, G=self._generator(opts))


def _ray_errors(ray, calls):
    """ray.get(calls), a worker's WaifuError (which Ray wraps) raised as itself."""
    try:
        return ray.get(calls)
    except Exception as err:
        cause = getattr(err, "cause", None)
        if isinstance(cause, WaifuError):
            raise WaifuError(str(cause)) from None
        raise


def render_on_ray(opts: RenderOptions, address: str, console=None, workers: int | None = None) -> str:
    """Split opts' clip into one part per Ray worker (one per GPU, else per CPU; never more parts than
    frames: the first worker plans the clip and tells its length), render them there and join them
    here. Paths are made absolute: the nodes must share the output folder."""
    from ..raycluster import connect, plan_workers
    from .video import check_output_options, default_checkpoint

    check = check_output_options(opts)
    shards.check_shardable(check.kind, opts)
    said = opts
    opts = dataclasses.replace(opts, output=os.path.abspath(opts.output), quiet=True,
                               checkpoint=os.path.abspath(opts.checkpoint or default_checkpoint()))
    ray = connect(address)
    count, actor_options = plan_workers(ray.cluster_resources(), workers or 1_000_000)
    count = workers or count
    Worker = ray.remote(**actor_options)(ShardWorker)
    options = opts.to_dict()
    actors = [Worker.remote()]
    try:
        total = _ray_errors(ray, actors[0].frames.remote(options))
        count = max(1, min(count, total))           # a short clip: fewer parts (one for a one-frame clip)
        actors += [Worker.remote() for _ in range(count - 1)]
        parts = _ray_errors(ray, [a.run.remote(options, i, count) for i, a in enumerate(actors)])
    finally:
        for a in actors:
            ray.kill(a)
    shards.join_parts(parts, opts.output, overwrite=bool(opts.overwrite))
    shards.remove_parts(parts)
    _say(console, said, f"rendered {total} frames in {count} part{'s' if count > 1 else ''} on Ray; "
                        f"joined into {opts.output}")
    return opts.output


__all__ = ["render_shard", "render_on_ray", "ShardWorker"]
