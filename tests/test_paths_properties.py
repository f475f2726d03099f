"""Property-based tests of LatentPath on random keys and settings (FakeGenerator, no real network)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakes import FakeGenerator
from interpolate.options import RenderOptions
from interpolate.paths import LatentPath, plan_path, slerp, style_groups
from interpolate.seeds import z_from_seed

G10 = FakeGenerator()                                                        # SG2-like 64 px, num_ws 10
G16 = FakeGenerator(ws_resolution=(4, 4, 8, 8, 16, 16, 32, 32, 64, 64, 128, 128, 256, 256, 512, 512), seed=1)
GENS = {"g10": G10, "g16": G16}

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

seeds_st = st.lists(st.integers(0, 2**32 - 1), min_size=2, max_size=5, unique=True)
interp_st = st.sampled_from(["slerp", "linear", "cubic", "catmull-rom"])
easing_st = st.sampled_from(["linear", "smoothstep", "sine", "cubic"])
style_st = st.sampled_from(["all", "coarse", "middle", "fine", "cascade", "cascade-reverse", "coarse+fine"])


def opts_for(seeds, **kw) -> RenderOptions:
    return RenderOptions(keys=[",".join(map(str, seeds))], fps=10, **kw)


def mapped(G, seed) -> torch.Tensor:
    """The untruncated W of a seed, mapped alone (as the path maps its keys)."""
    return G.mapping(torch.from_numpy(z_from_seed(seed, G.z_dim)).float(), truncation_psi=1.0)[0]


def whole(path) -> torch.Tensor:
    return path.chunk(0, path.num_frames).ws


@SETTINGS
@given(g=st.sampled_from(list(GENS)), seeds=seeds_st, interp=interp_st, easing=easing_st, style=style_st,
       loop=st.booleans(), frames=st.integers(1, 9), hold=st.sampled_from([0.0, 0.1, 0.3]),
       psi=st.sampled_from([1.0, 0.7, -0.5]), cutoff=st.sampled_from([None, 0, 3, 8]),
       pace=st.sampled_from(["key", "even"]), base=st.sampled_from([None, "123"]))
def test_passes_exactly_through_every_key_at_its_time(g, seeds, interp, easing, style, loop, frames, hold, psi,
                                                      cutoff, pace, base):
    G = GENS[g]
    path = plan_path(G, opts_for(seeds, interp=interp, easing=easing, style=style, loop=loop, frames=frames,
                                 hold=hold, psi=psi, cutoff=cutoff, pace=pace, base=base))
    ws = whole(path)
    moving = path.params["moving_layers"]
    base_w = mapped(G, int(base) if base else seeds[0])
    hold_frames = int(round(hold * 10))
    assert len(path.key_frames) == len(seeds)
    for seed, k in zip(seeds, path.key_frames):
        want = base_w.clone()
        want[moving] = mapped(G, seed)[moving]
        if psi != 1:
            want[:cutoff] = G.w_avg.lerp(want[:cutoff], psi)
        for j in range(k, min(k + hold_frames + 1, path.num_frames)):   # arrival and every hold frame
            assert torch.equal(ws[j], want), (seed, k, j)


@SETTINGS
@given(g=st.sampled_from(list(GENS)), seeds=seeds_st, interp=interp_st, easing=easing_st,
       style=st.sampled_from(["coarse", "middle", "fine", "cascade", "coarse+fine"]), loop=st.booleans(),
       frames=st.integers(1, 9), layers=st.sampled_from([None, "0-2", "1,5,9"]), base=st.sampled_from([None, "77"]))
def test_layers_outside_the_moving_group_never_change(g, seeds, interp, easing, style, loop, frames, layers, base):
    G = GENS[g]
    if style == "cascade" and layers is None:
        layers = "0-1,4,8-9"           # the cascade over a subset (all of it would leave nothing still)
    path = plan_path(G, opts_for(seeds, interp=interp, easing=easing, style=style, loop=loop, frames=frames,
                                 layers=layers, base=base))
    ws = whole(path)
    moving = set(path.params["moving_layers"])
    still = [i for i in range(G.num_ws) if i not in moving]
    assert still, "every style in this test leaves some layers still"
    base_w = mapped(G, int(base) if base else seeds[0])
    for i in still:
        assert torch.equal(ws[:, i], base_w[i].expand_as(ws[:, i]))
    # and the moving layers do move
    assert not torch.equal(ws[:, sorted(moving)], ws[:1, sorted(moving)].expand_as(ws[:, sorted(moving)]))


@settings(max_examples=50, deadline=None)
@given(a=st.lists(st.floats(-10, 10), min_size=3, max_size=12), data=st.data(), s=st.floats(0, 1))
def test_slerp_keeps_the_norm_of_unit_vectors(a, data, s):
    a = np.asarray(a)
    b = np.asarray(data.draw(st.lists(st.floats(-10, 10), min_size=len(a), max_size=len(a))))
    if np.linalg.norm(a) < 1e-3 or np.linalg.norm(b) < 1e-3:
        return
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    if np.dot(a, b) < -0.999:      # antipodal: no unique great circle
        return
    out = slerp(a, b, np.asarray([s]))
    assert abs(np.linalg.norm(out) - 1.0) < 1e-9
    assert np.allclose(slerp(a, b, np.asarray([0.0])), a) and np.allclose(slerp(a, b, np.asarray([1.0])), b)


def _cyclic_diff(x: np.ndarray, n: int) -> np.ndarray:
    """n-th forward differences of a cyclic sequence [N, D]: out[i] uses x[i .. i + n] (indices wrap)."""
    for _ in range(n):
        x = np.roll(x, -1, axis=0) - x
    return x


@SETTINGS
@given(g=st.sampled_from(list(GENS)), seeds=st.lists(st.integers(0, 10**6), min_size=2, max_size=5, unique=True),
       frames=st.integers(8, 16), style=st.sampled_from(["all", "fine", "coarse"]),
       interp=st.sampled_from(["cubic", "catmull-rom"]))
def test_loop_seam_is_as_smooth_as_the_rest(g, seeds, frames, style, interp):
    """The frames of a loop, read cyclically, have no seam.

    Tolerance T = 1.05 * (largest third difference away from the seam) + 1e-5 (float32 rounding):
      - every third difference whose stencil crosses the seam is <= T;
      - the first difference across the seam equals its linear extrapolation from the two before it
        within T, and the second difference within 2 T.
    An evenly sampled C2 periodic spline satisfies this exactly (a third difference is an average of the
    constant jerks of the pieces it spans); a duplicated last frame, a kink or a jump in curvature at the
    seam does not. Catmull-Rom is only C1 at every key, the seam included: it is held to the same
    bound on its first differences only.
    """
    G = GENS[g]
    path = plan_path(G, opts_for(seeds, interp=interp, loop=True, frames=frames, style=style))
    x = whole(path).double().numpy()[:, path.params["moving_layers"]].reshape(path.num_frames, -1)
    N = len(x)
    assert N == frames * len(seeds) and not np.array_equal(x[-1], x[0])   # last frame is not the first again
    norm = lambda v: np.linalg.norm(v, axis=-1)  # noqa: E731
    d1, d2, d3 = (_cyclic_diff(x, k) for k in (1, 2, 3))
    seam3 = [(N - 1 - j) % N for j in range(3)]
    T = 1.05 * np.delete(norm(d3), seam3).max() + 1e-5
    # first difference across the seam (x[0] - x[N-1]) vs. extrapolated from d1[N-2], d1[N-3]
    assert norm(d1[N - 1] - (2 * d1[N - 2] - d1[N - 3])) <= T
    if interp == "catmull-rom":
        return
    assert norm(d3[seam3]).max() <= T
    assert norm(d2[N - 1] - (2 * d2[N - 2] - d2[N - 3])) <= 2 * T
    assert norm(d2[N - 2] - (2 * d2[N - 3] - d2[N - 4])) <= 2 * T


@SETTINGS
@given(g=st.sampled_from(list(GENS)), seeds=st.lists(st.integers(0, 10**6), min_size=2, max_size=4, unique=True),
       interp=st.sampled_from(["linear", "cubic", "catmull-rom", "slerp"]), space=st.sampled_from(["w", "z"]),
       loop=st.booleans(), hold=st.sampled_from([0.0, 0.5]), style=st.sampled_from(["all", "coarse", "fine"]))
def test_even_pace_moves_at_constant_speed(g, seeds, interp, space, loop, hold, style):
    """Linear easing, --pace even: successive frame distances (W, moving layers) within 5% of their
    mean, away from holds."""
    G = GENS[g]
    if space == "z" and interp != "slerp":
        space = "w"
    path = plan_path(G, opts_for(seeds, interp=interp, space=space, loop=loop, hold=hold, seconds=6.0,
                                 pace="even", style=style, easing="linear"))
    ws = whole(path).double().numpy()[:, path.params["moving_layers"]].reshape(path.num_frames, -1)
    steps = np.linalg.norm(np.diff(ws, axis=0), axis=1)
    moving = steps[steps > 0]                               # holds have zero steps
    hold_steps = (len(seeds) - (0 if loop else 1)) * 0 + len(seeds) * int(round(hold * 10))
    assert len(steps) - len(moving) <= hold_steps
    mean = moving.mean()
    assert np.all(np.abs(moving - mean) <= 0.05 * mean), (moving.min() / mean, moving.max() / mean)


@SETTINGS
@given(g=st.sampled_from(list(GENS)), seeds=seeds_st, interp=interp_st, easing=easing_st,
       frames=st.integers(12, 30), stagger=st.floats(0.0, 0.9), loop=st.booleans(),
       reverse=st.booleans(), pace=st.sampled_from(["key", "even"]))
def test_cascade_moves_coarse_before_fine(g, seeds, interp, easing, frames, stagger, loop, reverse, pace):
    G = GENS[g]
    style = "cascade-reverse" if reverse else "cascade"
    # in W the curve reaches its end point bit for bit, so 'reached' is exact equality below
    path = plan_path(G, opts_for(seeds, interp=interp, easing=easing, frames=frames, stagger=stagger, loop=loop,
                                 style=style, pace=pace, space="w"))
    ws = whole(path)
    groups = style_groups(G)
    first, last = (groups["fine"], groups["coarse"]) if reverse else (groups["coarse"], groups["fine"])
    starts = list(path.key_frames) + ([path.num_frames] if loop else [])
    key_ws = torch.from_numpy(path.key_ws)
    for i in range(len(starts) - 1):
        a, b = starts[i], starts[i + 1]
        target = key_ws[(i + 1) % len(seeds)]

        def arrival(layers):
            """First frame of the transition from which `layers` stay at their target."""
            at = [bool(torch.equal(ws[j, layers], target[layers])) for j in range(a, b)]
            k = len(at)
            while k > 0 and at[k - 1]:
                k -= 1
            return a + k

        assert arrival(first) < arrival(last) == b, (i, arrival(first), arrival(last), b)


@SETTINGS
@given(g=st.sampled_from(list(GENS)), seeds=seeds_st, interp=interp_st, style=style_st, loop=st.booleans(),
       noise=st.sampled_from(["const", "random", "smooth", "none"]), pace=st.sampled_from(["key", "even"]),
       psi_end=st.sampled_from([None, 0.5]), cuts=st.lists(st.integers(0, 400), max_size=6))
def test_chunked_evaluation_equals_whole_evaluation(g, seeds, interp, style, loop, noise, pace, psi_end, cuts):
    G = GENS[g]
    o = opts_for(seeds, interp=interp, style=style, loop=loop, noise=noise, pace=pace, psi_end=psi_end,
                 seconds=7.0, hold=0.2)
    full = plan_path(G, o).chunk(0, 10**9)
    path = plan_path(G, o)                           # a fresh path: no cache shared with `full`
    n = path.num_frames
    bounds = sorted({0, n, *[c % (n + 1) for c in cuts]})
    parts = [path.chunk(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]
    assert torch.equal(torch.cat([p.ws for p in parts]), full.ws)
    assert all(p.noise_mode == full.noise_mode for p in parts)
    if full.noise is None:
        assert all(p.noise is None for p in parts)
    else:
        for k in range(len(G.noise_shapes)):
            assert torch.equal(torch.cat([p.noise[k] for p in parts]), full.noise[k])
    # and at any time t between frames the path is defined and between its neighbours' scale
    t = np.asarray([0.0, 0.55, path.duration / 3])
    assert path.ws_at(t).shape == (3, G.num_ws, G.w_dim)
    assert torch.equal(path.ws_at([0.0])[0], full.ws[0])


@settings(max_examples=12, deadline=None)
@given(seeds=seeds_st, interp=interp_st, style=style_st, loop=st.booleans(),
       noise=st.sampled_from(["const", "random", "smooth"]), psi_end=st.sampled_from([None, 0.3]))
def test_save_and_replay_bit_for_bit(tmp_path_factory, seeds, interp, style, loop, noise, psi_end):
    G = G10
    path = plan_path(G, opts_for(seeds, interp=interp, style=style, loop=loop, noise=noise, psi_end=psi_end))
    out = tmp_path_factory.mktemp("latents") / "plan.npz"
    path.save_latents(str(out))
    again = plan_path(G, dataclasses.replace(RenderOptions(), from_latents=str(out)))
    assert again.num_frames == path.num_frames and list(again.key_frames) == list(path.key_frames)
    a, b = path.chunk(0, path.num_frames), again.chunk(0, again.num_frames)
    assert torch.equal(a.ws, b.ws) and a.noise_mode == b.noise_mode
    assert (a.noise is None) == (b.noise is None)
    if a.noise is not None:
        assert all(torch.equal(x, y) for x, y in zip(a.noise, b.noise))
    with np.load(out) as data:
        assert data["ws"].dtype == np.float32 and data["times"].shape == (path.num_frames,)
        assert np.array_equal(data["key_frames"], path.key_frames)
        assert [str(s) for s in data["key_labels"]] == [str(s) for s in seeds]
    assert again.groups == style_groups(G)
    assert again.params["interp"] == interp and again.params["keys"] == path.params["keys"]


def test_smooth_noise_loops_and_stays_unit_variance():
    path = plan_path(G10, opts_for([1, 2, 3], loop=True, noise="smooth", frames=20))
    n = path.num_frames
    first, after_last = path.noise.frame(0), path.noise.frame(n)
    for x, y in zip(first, after_last):
        assert torch.allclose(x, y, atol=1e-5)
    noise = path.chunk(0, n).noise
    steps = [(noise[2][j + 1] - noise[2][j]).abs().max().item() for j in range(n - 1)]
    seam = (path.noise.frame(0)[2] - noise[2][n - 1]).abs().max().item()
    assert seam <= 1.2 * max(steps)                                # no jump at the seam
    big = path.noise.frame(7)[2].numel()
    assert big == 64 and 0.3 < torch.cat([path.noise.frame(j)[2].flatten() for j in range(0, n, 5)]).std() < 1.7


def test_psi_animates_from_psi_to_psi_end():
    seeds = [5, 6]
    path = plan_path(G10, opts_for(seeds, psi=1.0, psi_end=0.0, frames=10))
    ws = whole(path)
    # psi_end 0 puts the last frame on w_avg
    assert torch.allclose(ws[-1], G10.w_avg.expand_as(ws[-1]), atol=1e-6)
    assert torch.equal(ws[0], mapped(G10, 5))


@pytest.mark.parametrize("n_frames", [100_000])
def test_long_paths_are_evaluated_in_bounded_memory(n_frames):
    path = plan_path(G16, opts_for([1, 2], seconds=n_frames / 10))
    assert path.num_frames == n_frames + 1
    assert path.chunk(n_frames - 3, n_frames + 1).ws.shape == (4, 16, G16.w_dim)
    assert len(path._cache) <= 2        # nothing per frame is kept beyond two blocks
