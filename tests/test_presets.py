"""Presets: shipped set, lookup order (path, user folder, shipped), type checks, layering, CLI listing."""

from __future__ import annotations

import pytest
import typer

from interpolate import presets as P
from interpolate.errors import WaifuError
from interpolate.options import RenderOptions

SHIPPED = ("cascade", "color-cycle", "discord-gif", "music-video", "pose-sweep", "reel-music", "reel-vertical", "seed-tour",
           "x-gif")


@pytest.fixture(autouse=True)
def user_folder(tmp_path, monkeypatch):
    folder = tmp_path / "user-presets"
    monkeypatch.setenv("WAIFU_MORPH_PRESETS", str(folder))
    return folder


def test_shipped_presets_are_package_data_and_all_valid():
    assert P.shipped_dir().is_dir() and P.shipped_dir().parent.name == "interpolate"
    names = [p.name for p in P.list_presets()]
    assert tuple(names) == SHIPPED
    for p in P.list_presets():
        assert p.origin == "shipped" and p.description and "\n" not in p.description
        RenderOptions().updated(p.values)            # every value is a RenderOptions field of the right type


def test_shipped_recipes_say_what_the_issue_asks():
    r = {name: P.resolve(name) for name in SHIPPED}
    assert r["color-cycle"]["style"] == "fine" and r["color-cycle"]["loop"] is True
    assert r["pose-sweep"]["style"] == "coarse"
    assert r["cascade"]["style"] == "cascade"
    assert r["seed-tour"]["style"] == "all"
    assert r["seed-tour"]["interp"] == "cubic" and r["seed-tour"]["pace"] == "even"
    w, h = map(int, r["x-gif"]["size"].split("x"))
    assert w == h <= 1280 and r["x-gif"]["output"].endswith(".gif") and r["x-gif"]["max_size"] == "15MB"
    assert r["discord-gif"]["output"].endswith(".gif") and r["discord-gif"]["max_size"] == "10MB"
    assert r["reel-vertical"]["size"] == "1080x1920" and r["reel-vertical"]["output"].endswith(".mp4")


def test_user_preset_shadows_shipped_and_can_build_on_it(user_folder):
    user_folder.mkdir()
    (user_folder / "x-gif.toml").write_text('description = "mine"\npreset = "discord-gif"\nfps = 12\n')
    (user_folder / "slow.toml").write_text('description = "slow tour"\npreset = "seed-tour"\nseconds = 6\n')
    assert P.load("x-gif").origin == "user"
    assert P.resolve("x-gif") == {**P.resolve(str(P.shipped_dir() / "discord-gif.toml")), "fps": 12.0}
    slow = P.resolve("slow")
    assert slow["seconds"] == 6.0 and slow["pace"] == "even"         # int accepted for a float field
    assert "slow" in P.available()


def test_any_path_and_unknown_names(tmp_path):
    f = tmp_path / "mine.toml"
    f.write_text("style = 'middle'\nx264_preset = 'slow'\n")
    assert P.resolve(str(f)) == {"style": "middle", "x264_preset": "slow"}
    assert P.load(str(f)).origin == "file"
    with pytest.raises(WaifuError, match=r"unknown preset 'x-giff'; did you mean 'x-gif'\? available: cascade, "):
        P.find("x-giff")
    with pytest.raises(WaifuError, match="preset file .*nope.toml' not found"):
        P.find(str(tmp_path / "nope.toml"))


@pytest.mark.parametrize("text, match", [
    ("stlye = 'fine'", r"unknown key 'stlye' in preset '.*bad.toml'; did you mean 'style'\?"),
    ("loop = 'yes'", r"'loop' in preset '.*bad.toml' must be true or false, got a string 'yes'"),
    ("seconds = 'long'", r"'seconds' in preset '.*bad.toml' must be a number, got a string"),
    ("crf = 18.5", r"'crf' in preset '.*bad.toml' must be an integer, got a number 18.5"),
    ("frames = true", r"'frames' in preset '.*bad.toml' must be an integer, got a boolean"),
    ("durations = [1, 'x']", r"'durations' in preset .* must be a list of numbers"),
    ("keys = {a = 1}", r"'keys' in preset .* must be seeds and/or W files"),
    ("preset = 3", r"'preset' in preset .* names the preset this one starts from"),
    ("style = ", r"is not valid TOML"),
])
def test_bad_values_name_key_file_and_expected_type(tmp_path, text, match):
    f = tmp_path / "bad.toml"
    f.write_text(text + "\n")
    with pytest.raises(WaifuError, match=match):
        P.resolve(str(f))


def test_cycles_are_reported(user_folder):
    user_folder.mkdir()
    (user_folder / "a.toml").write_text("preset = 'b'\n")
    (user_folder / "b.toml").write_text("preset = 'a'\n")
    with pytest.raises(WaifuError, match="based on itself"):
        P.resolve("a")


def test_apply_layers_under_explicit_values():
    opts = P.apply(RenderOptions(keys=["1", "2"]), "pose-sweep")
    assert opts.style == "coarse" and opts.keys == ["1", "2"]
    opts = opts.updated({"style": "fine"})                     # what the CLI does with flags the user passed
    assert opts.style == "fine" and opts.easing == "smoothstep"


def test_toml_round_trip():
    values = {"style": "fine", "loop": True, "seconds": 1.5, "keys": ["3", "17"], "x264_preset": "slow", "output": 'a"b.gif'}
    import tomllib
    back = P.check_values(tomllib.loads(P.to_toml(values)), "test")
    assert back == values


def test_cli_lists_one_line_each_and_shows_one(user_folder):
    from typer.testing import CliRunner

    from interpolate.cli import app

    runner = CliRunner()
    out = runner.invoke(app, ["presets"])
    assert out.exit_code == 0, out.output
    lines = [ln for ln in out.output.splitlines() if ln.split() and ln.split()[0] in SHIPPED]
    assert [ln.split()[0] for ln in lines] == list(SHIPPED)
    shown = runner.invoke(app, ["presets", "show", "x-gif"])
    assert shown.exit_code == 0 and 'max_size = "15MB"' in shown.output and "x-gif.toml" in shown.output
    user_folder.mkdir()
    (user_folder / "tiny.toml").write_text('description = "tiny"\npreset = "x-gif"\nsize = "64x64"\n')
    shown = runner.invoke(app, ["presets", "show", "tiny"])
    assert shown.exit_code == 0 and 'size = "64x64"' in shown.output and 'max_size = "15MB"' in shown.output
    assert "(user)" in runner.invoke(app, ["presets"]).output


def test_cli_unknown_preset_is_one_line_exit_2(capsys):
    from interpolate.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["presets", "show", "nope"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown preset 'nope'" in err and "x-gif" in err


def test_typed_flags_override_the_preset_and_defaults_do_not(monkeypatch):
    """Through the real `render` command: a preset under the typed flags, defaults never over it."""
    from typer.testing import CliRunner

    from interpolate.cli import app
    from interpolate.render import video

    seen = {}

    def fake_render(opts, console=None, sidecar_data=None):
        seen["opts"] = opts
        return video.RenderResult("x", "gif", 1, 1, 1, 1.0, 1.0, 1, 1.0)

    monkeypatch.setattr(video, "render", fake_render)
    runner = CliRunner()
    assert runner.invoke(app, ["render", "--preset", "x-gif", "--fps", "12", "--style", "all"]).exit_code == 0
    opts = seen["opts"]
    assert opts.fps == 12.0 and opts.style == "all" and opts.max_size == "15MB" and opts.output == "waifu-x.gif"
    assert runner.invoke(app, ["render", "--preset", "pose-sweep"]).exit_code == 0
    assert seen["opts"].style == "coarse" and seen["opts"].seconds == 2.0 and seen["opts"].hold == 0.25
