"""The JSON sidecar: everything needed to render an output again, written beside it.

    waifu.mp4.json = {"tool": "waifu-morph 0.1.0", "version": ..., "created": ...,
                      "checkpoint": {"path", "sha256", "format", "arch"}, "checkpoint_sha256": ...,
                      "options": {every RenderOptions field}, "output": {frames, fps, size, ...},
                      "path": {what plan_path made of the options}}

`waifu-morph render --from waifu.mp4.json` reads it back (`options_from_sidecar`).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any

from ..errors import WaifuError
from ..files import atomic_write
from ..options import RenderOptions

SIDECAR_FORMAT = "waifu-morph-render"


# what `size` None meant when the sidecar was written (older sidecars: the model's own size)
SIZE_DEFAULT = "models under 256 px upscaled to 256 px on the short side"


def sidecar_path(output: str | os.PathLike) -> Path:
    """output + '.json'; a folder output 'frames/' -> 'frames.json'; a frame pattern 'out/img_%05d.png'
    -> 'out/img.json' ('out/%05d.png' -> 'out/frames.json'): no '%05d' in a real file name."""
    text = os.fspath(output).rstrip("/" + os.sep)
    folder, name = os.path.split(text)
    if "%" in name:
        import re

        stem = re.sub(r"%0?\d*d", "", os.path.splitext(name)[0]).strip("_-. ") or "frames"
        return Path(folder or ".") / f"{stem}.json"
    return Path(text + ".json")


def checkpoint_record(G, checkpoint_path: str | None) -> dict[str, Any]:
    info = getattr(G, "checkpoint_info", None)
    if info is None:
        return {"path": checkpoint_path, "sha256": None, "format": None, "arch": getattr(G, "arch", None)}
    return {"path": str(Path(info.path).resolve()), "sha256": info.sha256, "format": info.format, "arch": info.arch}


def write_sidecar(output, recipe: dict, G, path_description: dict, output_info: dict) -> Path:
    """Write output.json atomically (interpolate.files); `recipe` is the flat options. Returns its path."""
    from .. import __version__

    ck = checkpoint_record(G, recipe.get("checkpoint"))
    data = {"format": SIDECAR_FORMAT, "tool": f"waifu-morph {__version__}", "version": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "checkpoint": ck, "checkpoint_sha256": ck["sha256"], "options": recipe,
            "output": output_info, "path": path_description, "size_default": SIZE_DEFAULT}
    target = sidecar_path(output)
    try:
        with atomic_write(target, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, default=_jsonable)
            f.write("\n")
    except WaifuError as exc:
        raise WaifuError(f"cannot write the sidecar '{target}' ({exc}); pass --no-sidecar to skip it") from None
    return target


def recipe_for(path, output, device) -> dict:
    """The flat options of a render made through the Python API (specs and a planned path): the
    path's recorded fields, the output and device specs, defaults for the rest."""
    names = set(RenderOptions.field_names())
    described = {k: v for k, v in path.describe().items() if k in names}
    return {**RenderOptions().to_dict(), **described, **output.flat(), **device.flat()}


def _jsonable(v):
    import numpy as np

    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


def read_sidecar_file(path: str | os.PathLike) -> dict:
    """A sidecar as a dict; a missing or foreign file is a one-line WaifuError."""
    p = Path(path)
    if not p.is_file() and sidecar_path(p).is_file():   # 'render --from waifu.mp4' finds waifu.mp4.json
        p = sidecar_path(p)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WaifuError(f"sidecar '{p}' does not exist; pass the .json written beside a render") from None
    except (OSError, ValueError) as exc:
        raise WaifuError(f"'{p.name}' is not a readable JSON sidecar ({exc}); pass the .json written beside a render") from None
    if not isinstance(data, dict) or not isinstance(data.get("options"), dict):
        raise WaifuError(f"'{p.name}' is not a waifu-morph sidecar (it has no 'options'); pass the .json written beside a render")
    return data


def options_from_sidecar(path: str | os.PathLike) -> tuple[RenderOptions, dict]:
    """(the options recorded in a sidecar, the sidecar). The checkpoint is the file it recorded."""
    from ..presets import check_values

    data = read_sidecar_file(path)
    source = f"sidecar '{Path(path).name}'"
    recorded = {k: v for k, v in data["options"].items() if v is not None}     # null: the field's default
    opts = RenderOptions.from_dict(check_values(recorded, source), source=source)
    ck = data.get("checkpoint") or {}
    if isinstance(ck, dict) and isinstance(ck.get("path"), str) and ck["path"]:
        opts.checkpoint = ck["path"]
    opts.overwrite = False           # replacing a file takes a -y typed now, not one recorded back then
    if opts.size is None and data.get("size_default") != SIZE_DEFAULT:
        opts.size = "native"         # recorded before small models were upscaled by default: same size again
    return opts, data


def check_checkpoint_matches(data: dict, G) -> None:
    """The sidecar's checkpoint SHA-256 must be the loaded file's (else the render would differ)."""
    ck = data.get("checkpoint") or {}
    want = data.get("checkpoint_sha256") or (ck.get("sha256") if isinstance(ck, dict) else None)
    if want is not None and not isinstance(want, str):
        raise WaifuError("the sidecar's checkpoint SHA-256 is not a hex string; pass the .json written beside a render")
    info = getattr(G, "checkpoint_info", None)
    if want and info is not None and info.sha256 != want:
        raise WaifuError(f"checkpoint '{info.path}' is not the one this sidecar was rendered from "
                         f"(SHA-256 {info.sha256[:12]}... != {want[:12]}...); pass the original checkpoint")
