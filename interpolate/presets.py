"""Presets and layering: named recipes of RenderOptions fields (TOML), and the one place that stacks
recipes, sidecars, job defaults and typed flags into one RenderOptions (`layered`).

    description = "Colours and fine detail cycle over one pose, as a seamless loop"
    style = "fine"
    loop = true
    seconds = 1.5

Keys are RenderOptions field names (dashes allowed). Two keys are not fields:
    description   the one line `waifu-morph presets` lists
    preset        another preset this one starts from (so a user preset can tweak a shipped one)
The x264/x265 speed preset is the field `x264_preset`.

Where presets live, first match wins:
    1. a path to a .toml file (`--preset ./mine.toml`)
    2. the user folder: $WAIFU_MORPH_PRESETS, else $XDG_CONFIG_HOME/waifu-morph/presets
       (default ~/.config/waifu-morph/presets)
    3. the shipped ones: interpolate/presets_data/*.toml (package data, so they are found after
       a plain `pip install` too; the repository's presets/ folder links to it)
"""

from __future__ import annotations

import difflib
import importlib.resources
import os
import tomllib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import WaifuError
from .options import RenderOptions

SUFFIX = ".toml"
META_KEYS = ("description", "preset")            # keys of a preset file that are not RenderOptions fields
X264_PRESET_KEY = "x264_preset"                  # the x264 speed (a RenderOptions field; 'preset' names a recipe)
MAX_DEPTH = 8                                    # presets based on presets, at most this deep


# --- where presets live -----------------------------------------------------------------------------
def shipped_dir() -> Path:
    """The folder of the presets shipped with the package."""
    return Path(str(importlib.resources.files("interpolate") / "presets_data"))


def user_dir() -> Path:
    """$WAIFU_MORPH_PRESETS, else $XDG_CONFIG_HOME/waifu-morph/presets (~/.config/... by default)."""
    env = os.environ.get("WAIFU_MORPH_PRESETS")
    if env:
        return Path(env).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(config) / "waifu-morph" / "presets"


def search_dirs() -> list[tuple[str, Path]]:
    """(origin, folder) in lookup order: user first, so a user preset can replace a shipped one."""
    return [("user", user_dir()), ("shipped", shipped_dir())]


@dataclass(frozen=True)
class Preset:
    name: str
    path: Path
    origin: str                       # 'shipped' | 'user' | 'file'
    description: str
    base: str | None                  # the preset this one starts from
    values: dict[str, Any]            # RenderOptions fields, type-checked, as written in this file

    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")


def available() -> dict[str, Path]:
    """Every preset name -> its file (user presets shadow shipped ones of the same name)."""
    found: dict[str, Path] = {}
    for _, folder in search_dirs():
        if folder.is_dir():
            for p in sorted(folder.glob("*" + SUFFIX)):
                found.setdefault(p.stem, p)
    return dict(sorted(found.items()))


def _origin(path: Path) -> str:
    for origin, folder in search_dirs():
        if path.parent.resolve() == folder.resolve():
            return origin
    return "file"


def find(name: str) -> Path:
    """A preset name or a path to a .toml file -> its file; unknown names list the available ones."""
    name = str(name).strip()
    as_path = Path(name).expanduser()
    if name.endswith(SUFFIX) or os.sep in name:
        if as_path.is_file():
            return as_path
        raise WaifuError(f"preset file '{name}' not found; check the path, or give a preset name "
                         f"(waifu-morph presets lists them)")
    presets = available()
    if name in presets:
        return presets[name]
    near = difflib.get_close_matches(name, list(presets), n=1)
    hint = f"did you mean '{near[0]}'? " if near else ""
    raise WaifuError(f"unknown preset '{name}'; {hint}available: {', '.join(presets) or 'none'} "
                     f"(user presets go in {user_dir()})")


# --- reading and checking ---------------------------------------------------------------------------
def read_toml(path: Path, what: str = "file") -> dict[str, Any]:
    """Parse a TOML file; syntax errors and unreadable files are one-line WaifuErrors."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise WaifuError(f"{what} '{path}' not found; check the path") from None
    except OSError as err:
        raise WaifuError(f"{what} '{path}' cannot be read ({err.strerror}); check its permissions") from None
    except tomllib.TOMLDecodeError as err:
        raise WaifuError(f"{what} '{path}' is not valid TOML ({err}); fix the syntax") from None


def load(name: str) -> Preset:
    """Read and check one preset (by name or path); does not resolve the preset it is based on."""
    path = find(name)
    data = read_toml(path, "preset")
    source = f"preset '{path}'"
    description = data.pop("description", "")
    if not isinstance(description, str):
        raise WaifuError(f"'description' in {source} must be a string, got {_tname(description)}")
    base = data.pop("preset", None)
    if base is not None and not isinstance(base, str):
        raise WaifuError(f"'preset' in {source} names the preset this one starts from, a string; "
                         f"got {_tname(base)} (the x264 speed is written '{X264_PRESET_KEY}')")
    values = check_values(data, source)
    return Preset(name=path.stem, path=path, origin=_origin(path), description=" ".join(description.split()),
                  base=base, values=values)


def resolve(name: str) -> dict[str, Any]:
    """All RenderOptions values of a preset, those of the presets it is based on applied first."""
    chain: list[Preset] = []
    seen: set[Path] = set()
    while name is not None:
        preset = load(name)
        if preset.path.resolve() in seen or len(chain) >= MAX_DEPTH:
            raise WaifuError(f"preset '{preset.path}' is based on itself through 'preset = ...'; break the cycle")
        seen.add(preset.path.resolve())
        chain.append(preset)
        name = preset.base
    values: dict[str, Any] = {}
    for preset in reversed(chain):
        values.update(preset.values)
    return values


def apply(opts: RenderOptions, name: str | None) -> RenderOptions:
    """`opts` with the preset's values on top (call before applying explicit command-line values)."""
    if not name:
        return opts
    return opts.updated(resolve(name), source=f"preset '{name}'")


def list_presets() -> list[Preset]:
    """Every available preset, checked; a broken user preset raises, naming its file."""
    return [load(str(path)) for path in available().values()]


# --- values: names and types ------------------------------------------------------------------------
_HINTS = typing.get_type_hints(RenderOptions)
_FIELDS = RenderOptions.field_names()


def check_values(data: dict[str, Any], source: str) -> dict[str, Any]:
    """Map TOML keys to RenderOptions fields and check each value's type.

    Unknown keys name the nearest valid key; a wrong type names the key, `source` and the expected type.
    Returns field -> value.
    """
    out: dict[str, Any] = {}
    valid = sorted(_FIELDS) + list(META_KEYS)
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in _FIELDS:
            near = difflib.get_close_matches(name, valid, n=1)
            hint = f"; did you mean '{near[0]}'?" if near else f"; valid keys: {', '.join(valid)}"
            raise WaifuError(f"unknown key '{key}' in {source}{hint}")
        out[name] = coerce(name, value, source, key)
    return out


def coerce(name: str, value: Any, source: str, key: str | None = None) -> Any:
    """Check `value` against RenderOptions.<name>'s annotation; ints are accepted for floats, and
    `keys` accepts a string ('3,17,42'), a number or a list of them."""
    hint = _HINTS[name]
    key = key or name
    if name == "keys":
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return [str(value)]
        if isinstance(value, list) and all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
            return [str(v) for v in value]
        raise WaifuError(f"'{key}' in {source} must be seeds and/or W files, as a string ('3,17,42') or a list "
                         f"([3, 17, 42]); got {_tname(value)}")
    ok, converted = _conform(hint, value)
    if not ok:
        raise WaifuError(f"'{key}' in {source} must be {_describe(hint)}, got {_tname(value)} {value!r}")
    return converted


def _conform(hint, value) -> tuple[bool, Any]:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        for arg in typing.get_args(hint):
            if arg is type(None):
                continue
            ok, v = _conform(arg, value)
            if ok:
                return True, v
        return False, None
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            return False, None
        conv = [_conform(item, v) for v in value]
        return all(ok for ok, _ in conv), [v for _, v in conv]
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok, float(value) if ok else None
    if hint is str:
        return isinstance(value, str), value
    return isinstance(value, hint), value


def _describe(hint) -> str:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_describe(a) for a in typing.get_args(hint) if a is not type(None))
    if origin is list:
        return f"a list of {_describe(typing.get_args(hint)[0])}s".replace("a list of an ", "a list of ").replace("a list of a ", "a list of ")
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(hint, str(hint))


def _tname(value) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


def to_toml(values: dict[str, Any]) -> str:
    """RenderOptions values as TOML lines (for `presets show` of an effective recipe and for tests)."""
    lines = []
    for name, value in values.items():
        lines.append(f"{name} = {_toml_value(value)}")
    return "\n".join(lines) + ("\n" if lines else "")


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")



# --- showing ----------------------------------------------------------------------------------------
def print_list(console) -> None:
    """`waifu-morph presets`: one line per preset (name, description; origin when not shipped)."""
    from rich.markup import escape

    presets = list_presets()
    width = max((len(p.name) for p in presets), default=0)
    for p in presets:
        origin = "" if p.origin == "shipped" else f"[dim]({p.origin})[/] "
        console.print(f"[bold cyan]{escape(p.name):<{width}}[/]  {origin}{escape(p.description or '(no description)')}",
                      soft_wrap=True, highlight=False)
    console.print(f"[dim]show one: waifu-morph presets show NAME; use one: waifu-morph render --preset NAME; "
                  f"add your own in {user_dir()}[/]", soft_wrap=True, highlight=False)


def print_show(name: str, console) -> None:
    """`waifu-morph presets show NAME`: where the preset lives, its file, and what it resolves to."""
    preset = load(name)
    console.print(f"# {preset.name} ({preset.origin}): {preset.path}", style="dim", markup=False, highlight=False,
                  soft_wrap=True)
    console.print(preset.text().rstrip(), markup=False, highlight=False, soft_wrap=True)
    if preset.base:
        console.print(f"# resolved, with '{preset.base}' under it:", style="dim", markup=False, highlight=False)
        console.print(to_toml(resolve(name)).rstrip(), markup=False, highlight=False, soft_wrap=True)


# --- layering: the one place --------------------------------------------------------------------
def layered(base: RenderOptions, *layers: tuple[str | None, dict[str, Any] | None, str]) -> RenderOptions:
    """`base` (defaults or a sidecar) with layers on top, later wins: each layer is (preset reference
    or None, checked values or None, where the values come from). The order users get everywhere:
    preset < sidecar < job defaults (their preset, then their values) < the job's own preset and
    values < flags typed on the command line."""
    opts = base
    for preset, values, source in layers:
        if preset:
            opts = opts.updated(resolve(preset), source=f"preset '{preset}'")
        if values:
            opts = opts.updated(values, source=source)
    return opts
