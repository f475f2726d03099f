"""What the studio hands to the command line: a preset TOML, a reel TOML, the equivalent `render` line.

    preset_toml(engine, values, output)   -> text for `waifu-morph render --preset FILE`
    reel_toml(engine, values, output)     -> (text for `waifu-morph reel FILE`, what a reel cannot carry)
    command_line(engine, values, output)  -> 'waifu-morph render --seeds 3,7 --style fine -o out.mp4'

All three start from the same flat values (the names of `render --help`, defaults left out), so what
the page shows, saves and copies is one recipe. Several directions are lists paired by position
(`direction = [...]`, `strength = [...]`; on the command line `--direction X --strength A` per
direction); a per-key hold is a list (`hold = [0, 1.5, 0]`; `--hold 0,1.5,0`).
"""

from __future__ import annotations

import shlex
from typing import Any

from ..presets import to_toml
from .engine import OUTPUT_NAMES, PATH_NAMES, non_defaults, options

# a reel segment's own fields (batch/reel.py SEGMENT_FIELDS); everything else it takes is reel-wide
SEGMENT_NAMES = ("keys", "interp", "easing", "seconds", "frames", "durations", "hold", "pace", "style", "layers",
                 "stagger")
# what a reel does not use (batch/reel.py): it plans in W without wrapping round, walks no direction
REEL_DROPS = {"direction": "a reel walks no direction", "strength": "a reel walks no direction",
              "psi_end": "a reel keeps one psi", "space": "a reel always travels in W"}


def recipe_values(engine, values: dict[str, Any], output: str | None = None) -> dict[str, Any]:
    """The flat values a recipe needs to repeat this (defaults left out)."""
    opts = options(values, **({"output": output} if output else {}))
    out: dict[str, Any] = {"keys": list(opts.keys)}
    out.update(non_defaults(opts, PATH_NAMES + OUTPUT_NAMES))
    if output:
        out["output"] = output
    if not engine.shipped:
        out["checkpoint"] = engine.checkpoint
    return out


def preset_toml(engine, values: dict[str, Any], output: str | None = None, description: str = "") -> str:
    head = to_toml({"description": description or "saved from waifu-morph studio"})
    return head + to_toml(recipe_values(engine, values, output))


def reel_toml(engine, values: dict[str, Any], output: str | None = None,
              description: str = "") -> tuple[str, list[str]]:
    """One [[segment]] with the keys and the path's shape, the rest in [reel]; notes say what was left out."""
    rec = recipe_values(engine, values, output)
    notes: list[str] = []
    segment = {k: v for k, v in rec.items() if k in SEGMENT_NAMES}
    head = {"description": description or "saved from waifu-morph studio"}
    for name, value in rec.items():
        if name in SEGMENT_NAMES:
            continue
        if name == "loop":
            if value:
                segment["keys"] = list(segment["keys"]) + [segment["keys"][0]]
                if isinstance(segment.get("hold"), list):
                    segment["hold"] = list(segment["hold"]) + [segment["hold"][0]]
                notes.append("loop: the reel travels back to the first key and ends there (a reel does not wrap round)")
        elif name in REEL_DROPS:
            if name != "strength":
                notes.append(f"{name}: left out ({REEL_DROPS[name]})")
        else:
            head[name] = value
    text = "[reel]\n" + to_toml(head) + "\n[[segment]]\n" + to_toml(segment)
    return text, notes


def command_line(engine, values: dict[str, Any], output: str) -> str:
    """The `waifu-morph render ...` line that renders the same thing."""
    rec = recipe_values(engine, values, output)
    words = ["waifu-morph", "render"]
    if "checkpoint" in rec:
        words.append(rec.pop("checkpoint"))
    keys = rec.pop("keys")
    seeds = [k for k in keys if k.isdigit()]
    if seeds and len(seeds) == len(keys):
        words += ["--seeds", ",".join(seeds)]
    else:
        words += ["--keys", ",".join(keys)]
    direction, strength = rec.pop("direction", None), rec.pop("strength", None)
    for name, value in rec.items():
        flag = "--" + name.replace("_", "-")
        if name == "output":
            words += ["-o", str(value)]
        elif isinstance(value, bool):
            words.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, list):
            words += [flag, ",".join(str(v) for v in value)]
        else:
            words += [flag, str(value)]
    directions = direction if isinstance(direction, list) else [direction] if direction else []
    strengths = strength if isinstance(strength, list) else [strength] * len(directions)
    for d, a in zip(directions, strengths):                 # --direction X --strength A, per direction
        words += ["--direction", str(d)] + (["--strength", str(a)] if a is not None else [])
    return " ".join(shlex.quote(w) for w in words)
