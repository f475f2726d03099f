"""Keyframes, W files, style groups, timing, and one-line errors for every bad input."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes import FakeGenerator
from interpolate.errors import WaifuError
from interpolate.options import RenderOptions
from interpolate.paths import (describe_style_groups, format_layers, load_keys, parse_layers, plan_path,
                               style_groups, validate_path_options)
from interpolate.paths.styles import band_of, groups_from_resolutions
from interpolate.paths.timing import Timeline
from interpolate.seeds import z_from_seed

G = FakeGenerator()          # num_ws 10, w_dim 6


def opts(**kw) -> RenderOptions:
    base = dict(keys=["3,17,42"], fps=10)
    base.update(kw)
    return RenderOptions(**base)


# --- W files ------------------------------------------------------------------------------------
def test_w_files_in_every_layout_and_mixed_with_seeds(tmp_path):
    rng = np.random.RandomState(0)
    proj = rng.randn(1, G.num_ws, G.w_dim).astype(np.float32)        # NVIDIA projector: key 'w'
    np.savez(tmp_path / "projected_w.npz", w=proj)
    plain = rng.randn(G.w_dim).astype(np.float32)                     # one w for all layers
    np.save(tmp_path / "plain.npy", plain)
    per_layer = rng.randn(G.num_ws, G.w_dim)                          # float64 is fine too
    np.save(tmp_path / "layers.npy", per_layer)
    many = rng.randn(3, G.num_ws, G.w_dim).astype(np.float32)         # three keys in one file
    np.savez(tmp_path / "many.npz", many)

    keys = load_keys(G, [f"{tmp_path}/projected_w.npz", "5", f"{tmp_path}/plain.npy,{tmp_path}/layers.npy",
                         "0-1", f"{tmp_path}/many.npz"])
    assert [k.label for k in keys] == ["projected_w.npz", "5", "plain.npy", "layers.npy", "0", "1",
                                       "many.npz[0]", "many.npz[1]", "many.npz[2]"]
    assert np.array_equal(keys[0].w, proj[0])
    assert np.array_equal(keys[2].w, np.broadcast_to(plain, (G.num_ws, G.w_dim)))
    assert np.array_equal(keys[3].w, per_layer.astype(np.float32))
    assert np.array_equal(keys[8].w, many[2])
    z = torch.from_numpy(z_from_seed(5, G.z_dim)).float()
    assert np.array_equal(keys[1].w, G.mapping(z)[0].numpy()) and keys[1].z is not None and keys[0].z is None

    path = plan_path(G, opts(keys=[f"{tmp_path}/projected_w.npz", "5"], frames=4, interp="linear"))
    assert torch.equal(path.chunk(0, 1).ws[0], torch.from_numpy(proj[0]))
    assert path.params["space_resolved"] == "w"


def test_shuffle_is_a_reproducible_permutation():
    seeds = list(range(12))
    a = [k.seed for k in load_keys(G, ["0-11"], shuffle_seed=7)]
    b = [k.seed for k in load_keys(G, ["0-11"], shuffle_seed=7)]
    c = [k.seed for k in load_keys(G, ["0-11"], shuffle_seed=8)]
    assert a == b and sorted(a) == seeds and a != seeds and a != c
    assert [k.seed for k in load_keys(G, ["0-11"])] == seeds


@pytest.mark.parametrize("shape", [(G.w_dim + 1,), (G.num_ws + 1, G.w_dim), (1, G.num_ws, G.w_dim + 2), (2, 2, 2, 2)])
def test_w_file_of_the_wrong_shape_is_a_one_line_error(tmp_path, shape):
    f = tmp_path / "bad.npy"
    np.save(f, np.zeros(shape, np.float32))
    with pytest.raises(WaifuError) as err:
        plan_path(G, opts(keys=[str(f), "3"]))
    msg = str(err.value)
    assert "\n" not in msg and "bad.npy" in msg and "[10, 6]" in msg and "project" in msg


def test_w_files_never_unpickle(tmp_path):
    f = tmp_path / "objects.npy"
    np.save(f, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(WaifuError, match="never loaded"):
        load_keys(G, [str(f)])
    g = tmp_path / "two.npz"
    np.savez(g, a=np.zeros(6), b=np.zeros(6))
    with pytest.raises(WaifuError, match="no 'w'"):
        load_keys(G, [str(g)])
    with pytest.raises(WaifuError, match="not found"):
        load_keys(G, [str(tmp_path / "missing.npz")])
    h = tmp_path / "nan.npy"
    np.save(h, np.full(6, np.nan))
    with pytest.raises(WaifuError, match="NaN"):
        load_keys(G, [str(h)])


def test_w_files_that_are_not_numpy_name_what_they_are(tmp_path):
    """A projector's torch .pt, a text file or a damaged .npz: one line saying what it is and how to save a W."""
    pt = tmp_path / "proj.pt"
    torch.save({"img.png": {"latent": torch.zeros(G.num_ws, G.w_dim)}}, pt)
    text = tmp_path / "notes.npy"
    text.write_text("0.1 0.2 0.3\n")
    broken = tmp_path / "cut.npz"
    broken.write_bytes(b"PK\x03\x04 cut short")
    for path, needle in ((pt, "PyTorch file"), (text, "not a .npy/.npz array"), (broken, "damaged .npz")):
        with pytest.raises(WaifuError) as err:
            load_keys(G, ["3", str(path)])
        msg = str(err.value)
        assert needle in msg and path.name in msg and "\n" not in msg
        assert "np.save" in msg or "save it again" in msg


# --- style groups ----------------------------------------------------------------------------------
def test_groups_follow_the_resolution_each_w_feeds():
    assert style_groups(G) == {"coarse": [0, 1, 2, 3], "middle": [4, 5, 6, 7], "fine": [8, 9], "all": list(range(10))}
    g18 = groups_from_resolutions([r for r in (4, 8, 16, 32, 64, 128, 256, 512, 1024) for _ in (0, 1)])
    assert g18["coarse"] == [0, 1, 2, 3] and g18["middle"] == [4, 5, 6, 7] and g18["fine"] == list(range(8, 18))
    g16 = groups_from_resolutions([r for r in (4, 8, 16, 32, 64, 128, 256, 512) for _ in (0, 1)])
    assert g16["fine"] == list(range(8, 16))


def test_stylegan3_sampling_rates_map_onto_the_same_bands():
    # twice the cutoff frequencies of a StyleGAN3 generator: not powers of two
    rates = [4, 4, 5.04, 6.35, 8, 10.08, 12.7, 16, 20.16, 25.4, 32, 40.3, 50.8, 64, 128, 256]
    groups = groups_from_resolutions(rates)
    assert groups["coarse"] == [0, 1, 2, 3, 4, 5]        # up to 10.08 px (< 8 * sqrt 2)
    assert groups["middle"] == [6, 7, 8, 9, 10, 11]      # 12.7 .. 40.3 px
    assert groups["fine"] == [12, 13, 14, 15]            # 50.8 px and up
    assert band_of(11.3) == "coarse" and band_of(11.4) == "middle" and band_of(45.2) == "middle" and band_of(45.3) == "fine"
    g3 = FakeGenerator(ws_resolution=rates, noise_shapes=())
    path = plan_path(g3, opts(style="fine", noise="smooth", frames=3))
    assert path.params["moving_layers"] == [12, 13, 14, 15] and path.chunk(0, 2).noise is None


def test_info_lines_name_each_group_and_its_layers():
    lines = describe_style_groups(G)
    assert lines[0].startswith("coarse") and "0-3" in lines[0] and "4, 8 px" in lines[0]
    assert "8-9" in lines[2] and "64 px" in lines[2]


@given(st.sets(st.integers(0, 30), min_size=1))
@settings(max_examples=40, deadline=None)
def test_layer_lists_round_trip(layers):
    layers = sorted(layers)
    assert parse_layers(format_layers(layers), 31) == layers


def test_explicit_layers_and_combined_styles():
    assert plan_path(G, opts(layers="0-3,8-9")).params["moving_layers"] == [0, 1, 2, 3, 8, 9]
    assert plan_path(G, opts(style="coarse+fine")).params["moving_layers"] == [0, 1, 2, 3, 8, 9]
    p = plan_path(G, opts(style="cascade", layers="0,5,9"))
    assert p.params["style_groups_order"] == [["coarse", [0]], ["middle", [5]], ["fine", [9]]]
    p = plan_path(G, opts(style="cascade-reverse"))
    assert [g for g, _ in p.params["style_groups_order"]] == ["fine", "middle", "coarse"]


# --- timing -------------------------------------------------------------------------------------
def test_timing_frames_holds_and_loops():
    p = plan_path(G, opts(frames=10))
    assert p.num_frames == 21 and list(p.key_frames) == [0, 10, 20]
    p = plan_path(G, opts(seconds=1.5, hold=0.5))             # 15 frames per transition, 5 held
    assert list(p.key_frames) == [0, 20, 40] and p.num_frames == 46
    p = plan_path(G, opts(frames=10, loop=True))               # back to the first key, not repeating it
    assert p.num_frames == 30 and list(p.key_frames) == [0, 10, 20]
    p = plan_path(G, opts(durations=[1.0, 0.25]))
    assert list(p.key_frames) == [0, 10, 12]
    p = plan_path(G, opts(), durations=[0.5, 2.0])
    assert list(p.key_frames) == [0, 5, 25]
    one = plan_path(G, opts(keys=["9"], loop=True, frames=8, noise="smooth"))
    assert one.num_frames == 8 and torch.equal(one.chunk(0, 8).ws, one.chunk(0, 1).ws.expand(8, -1, -1))


def test_easing_changes_the_speed_not_the_keys():
    lin = plan_path(G, opts(frames=20, interp="linear")).chunk(0, 41).ws
    smooth = plan_path(G, opts(frames=20, interp="linear", easing="smoothstep")).chunk(0, 41).ws
    assert torch.equal(lin[[0, 20, 40]], smooth[[0, 20, 40]])
    # smoothstep starts slower than linear and is at the midpoint at the middle
    assert (smooth[1] - smooth[0]).norm() < (lin[1] - lin[0]).norm()
    assert torch.allclose(smooth[10], lin[10], atol=1e-6)


def test_timeline_locate():
    t = Timeline(fps=10, hold_frames=2, seg_frames=(4, 6), loop=False)
    seg, f = t.locate(np.arange(t.num_frames))
    assert t.num_frames == 17 and list(t.key_frames) == [0, 6, 14]
    assert list(seg) == [0] * 6 + [1] * 8 + [2] * 3
    assert list(f[:6]) == [0, 0, 0, 0.25, 0.5, 0.75] and list(f[14:]) == [0, 0, 0]


# --- one-line errors ---------------------------------------------------------------------------
BAD = [
    (dict(style="sparkle"), "unknown style 'sparkle'"),
    (dict(layers="0-3,12"), "out of range"),
    (dict(layers="3-1"), "backwards"),
    (dict(keys=["3"]), "--loop"),
    (dict(keys=[]), "--seeds"),
    (dict(interp="bezier"), "catmull-rom"),
    (dict(easing="bounce"), "smoothstep"),
    (dict(pace="fast"), "even"),
    (dict(noise="pink"), "smooth"),
    (dict(space="q"), "auto"),
    (dict(stagger=1.5), "stagger"),
    (dict(seconds=0), "--seconds"),
    (dict(seconds=0.01), "less than one frame"),
    (dict(frames=0), "--frames"),
    (dict(hold=-1), "--hold"),
    (dict(fps=0), "--fps"),
    (dict(psi=float("nan")), "--psi"),
    (dict(cutoff=11), "--cutoff"),
    (dict(durations=[1.0]), "one per transition"),
    (dict(durations=[1.0, 1.0], pace="even"), "drop one"),
    (dict(base="1,2"), "--base"),
    (dict(keys=["x"]), "seeds"),
]


@pytest.mark.parametrize("kw,needle", BAD, ids=[str(k) for k, _ in BAD])
def test_bad_input_is_one_line_naming_the_fix(kw, needle):
    with pytest.raises(WaifuError) as err:
        plan_path(G, opts(**kw))
    msg = str(err.value)
    assert "\n" not in msg and needle in msg, msg


def test_z_space_needs_seeds_and_conditional_models_need_a_class(tmp_path):
    f = tmp_path / "w.npy"
    np.save(f, np.zeros(G.w_dim, np.float32))
    with pytest.raises(WaifuError, match="--space w"):
        plan_path(G, opts(keys=[str(f), "3"], space="z"))
    # slerp with a W file among the keys falls back to slerp in W
    assert plan_path(G, opts(keys=[str(f), "3"], interp="slerp")).params["space_resolved"] == "w"
    assert plan_path(G, opts(interp="slerp")).params["space_resolved"] == "z"
    Gc = FakeGenerator(c_dim=4)
    with pytest.raises(WaifuError, match="--class-idx"):
        plan_path(Gc, opts())
    with pytest.raises(WaifuError, match="0-3"):
        plan_path(Gc, opts(class_idx=4))
    assert plan_path(Gc, opts(class_idx=2, frames=2)).num_frames == 5


def test_latents_file_errors(tmp_path):
    path = plan_path(G, opts(frames=3))
    f = tmp_path / "plan.npz"
    path.save_latents(str(f))
    other = FakeGenerator(ws_resolution=(4, 4, 8, 8))
    with pytest.raises(WaifuError, match="checkpoint it was saved from"):
        plan_path(other, dataclasses.replace(RenderOptions(), from_latents=str(f)))
    g = tmp_path / "w.npz"
    np.savez(g, w=np.zeros(6))
    with pytest.raises(WaifuError, match="not a latents file"):
        plan_path(G, dataclasses.replace(RenderOptions(), from_latents=str(g)))
    with pytest.raises(WaifuError, match=".npz"):
        path.save_latents(str(tmp_path / "plan.txt"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.npz", "w.npz"]     # no temp files left


def test_validate_accepts_the_defaults():
    validate_path_options(opts(), G)


def test_frame_labels_and_description():
    p = plan_path(G, opts(frames=4, loop=True))
    assert [p.label(i) for i in (0, 1, 4, 9, 11)] == ["3", "3 → 17", "17", "42 → 3", "42 → 3"]
    d = p.describe()
    assert d["key_frames"] == [0, 4, 8] and d["num_frames"] == 12 and d["groups"]["fine"] == [8, 9]
    import json
    json.dumps(d)
