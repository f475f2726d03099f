"""`waifu-morph info` and `waifu-morph image` on official-layout StyleGAN1 / 2 / 3 files, end to end.

The files are written by our own writers of NVIDIA's on-disk layouts (tests/writers*.py): a
StyleGAN1 TF (G, D, Gs) pickle, a stylegan3-repo StyleGAN2 snapshot (also a conditional one) and a
StyleGAN3 config-T snapshot. Truncation defaults come from the file (StyleGAN1 Gs: psi 0.7 on ws[:8])
and the flags override them.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from interpolate import load_generator, networks
from interpolate.cli import app, main
from interpolate.seeds import z_from_seed
from writers import nvidia_pickle_bytes, perturb
from writers_tf import dumps_tf, stylegan1_networks

SG1_KW = dict(resolution=64, fmap_base=64, fmap_max=8, latent_size=8, dlatent_size=8, mapping_fmaps=8, mapping_layers=2)
SG2_KW = dict(z_dim=8, c_dim=0, w_dim=8, img_resolution=64, img_channels=3, mapping_kwargs=dict(num_layers=2),
              channel_base=256, channel_max=8, num_fp16_res=1, conv_clamp=256)
SG3_KW = dict(z_dim=8, c_dim=0, w_dim=8, img_resolution=64, img_channels=3, channel_base=256, channel_max=8,
              mapping_kwargs=dict(num_layers=2))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("official")
    out = {}
    (d / "sg1.pkl").write_bytes(dumps_tf(stylegan1_networks(seed=3, static_kwargs=SG1_KW)))
    out["sg1"] = d / "sg1.pkl"
    (d / "sg1-cut4.pkl").write_bytes(dumps_tf(stylegan1_networks(seed=3, static_kwargs={**SG1_KW, "truncation_psi": 0.5,
                                                                                          "truncation_cutoff": 4})))
    out["sg1-cut4"] = d / "sg1-cut4.pkl"
    torch.manual_seed(0)
    G2 = perturb(networks.build("stylegan2", **SG2_KW), seed=1)
    (d / "sg2.pkl").write_bytes(nvidia_pickle_bytes(G2, SG2_KW))
    out["sg2"] = d / "sg2.pkl"
    cond_kw = {**SG2_KW, "c_dim": 3}
    G2c = perturb(networks.build("stylegan2", **cond_kw), seed=2)
    (d / "sg2-cond.pkl").write_bytes(nvidia_pickle_bytes(G2c, cond_kw))
    out["sg2-cond"] = d / "sg2-cond.pkl"
    G3 = perturb(networks.build("stylegan3", **SG3_KW), seed=3, filters=False)
    (d / "sg3.pkl").write_bytes(nvidia_pickle_bytes(G3, SG3_KW))
    out["sg3"] = d / "sg3.pkl"
    return out


def info_rows(path) -> dict[str, str]:
    res = CliRunner().invoke(app, ["info", str(path)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    rows: dict[str, str] = {}
    last = None
    for line in res.output.splitlines():   # rich table rows: │ field │ value │ (continuation rows: empty field)
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if len(cells) != 2:
            continue
        name, value = cells
        if name:
            rows[name], last = value, name
        elif last:
            rows[last] += "\n" + value
    return rows


def group_lines(rows) -> dict[str, str]:
    """{'coarse': '0-3', ...} from the info table's style-groups cell."""
    out = {}
    for line in rows["style groups"].splitlines():
        if line.startswith("("):        # a note under the groups
            continue
        name, word, layers = line.split()[:3]
        assert word == "layers"
        out[name] = layers
    return out


def sg3_expected_groups(img_resolution: int, num_layers: int = 14, num_critical: int = 2, first_cutoff: float = 2) -> dict:
    """Independent of our code: the layer cutoffs of StyleGAN3's synthesis (the paper's geometric progression),
    ws[0] feeding the input (first cutoff) and ws[i + 1] layer i; scale 2 x cutoff, sorted into the pixel bands
    coarse < 2**3.5 <= middle < 2**5.5 <= fine."""
    exponents = np.minimum(np.arange(num_layers + 1) / (num_layers - num_critical), 1)
    cutoffs = first_cutoff * (img_resolution / 2 / first_cutoff) ** exponents
    scales = 2 * np.concatenate([cutoffs[:1], cutoffs])
    band = np.where(np.log2(scales) < 3.5, "coarse", np.where(np.log2(scales) < 5.5, "middle", "fine"))
    return {name: [i for i, b in enumerate(band) if b == name] for name in ("coarse", "middle", "fine")}


def ranges(idx: list[int]) -> str:
    parts, i = [], 0
    while i < len(idx):
        j = i
        while j + 1 < len(idx) and idx[j + 1] == idx[j] + 1:
            j += 1
        parts.append(f"{idx[i]}" if i == j else f"{idx[i]}-{idx[j]}")
        i = j + 1
    return ",".join(parts) or "-"


# --- info ---------------------------------------------------------------------------------------------
def test_info_stylegan1_tf_pickle(files):
    rows = info_rows(files["sg1"])
    assert rows["format"].lower().startswith("stylegan1") or "tensorflow" in rows["format"].lower(), rows["format"]
    assert rows["architecture"].startswith("stylegan1")
    assert rows["num_ws"] == "10" and rows["resolution"].startswith("64x64")
    assert group_lines(rows) == {"coarse": "0-3", "middle": "4-7", "fine": "8-9"}
    assert rows["default truncation"].startswith("psi 0.7 on ws[:8] of 10")
    assert info_rows(files["sg1-cut4"])["default truncation"].startswith("psi 0.5 on ws[:4] of 10")


def test_info_stylegan2_nvidia_pickle(files):
    rows = info_rows(files["sg2"])
    assert rows["architecture"] == "stylegan2 (skip)" and rows["num_ws"] == "10"
    assert group_lines(rows) == {"coarse": "0-3", "middle": "4-7", "fine": "8-9"}
    assert rows["default truncation"].startswith("psi 1 (none stored")
    assert "num_fp16_res=1" in rows["fp16 layers"]
    assert rows["z / w / c dims"] == "8 / 8 / 0"
    assert info_rows(files["sg2-cond"])["z / w / c dims"] == "8 / 8 / 3"


def test_info_stylegan3_groups_follow_the_layer_cutoffs(files):
    rows = info_rows(files["sg3"])
    assert rows["architecture"] == "stylegan3 (config T)" and rows["num_ws"] == "16"
    want = sg3_expected_groups(64)
    assert all(want[name] for name in want)          # at 64 px every band has layers
    assert group_lines(rows) == {name: ranges(idx) for name, idx in want.items()}
    assert "2 x its cutoff frequency" in rows["style groups"]


# --- image --------------------------------------------------------------------------------------------
def official_uint8(G, seeds, psi: float, cutoff, c=None) -> np.ndarray:
    """uint8 [H, W, C] of the last of `seeds`, drawn in one batch with them (as `image` batches its seeds;
    a different batch may move a pixel by one step)."""
    seeds = [seeds] if isinstance(seeds, int) else seeds
    z = torch.from_numpy(np.concatenate([z_from_seed(s, G.z_dim) for s in seeds])).float()
    c = None if c is None else c.expand(len(seeds), -1)
    with torch.no_grad():
        img = G.synthesis(G.mapping(z, c, truncation_psi=psi, truncation_cutoff=cutoff), noise_mode="const")
    return (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)[-1].numpy()


def run_image(path, outdir, *args) -> dict[int, np.ndarray]:
    res = CliRunner().invoke(app, ["image", str(path), "-o", str(outdir), "-q", "--device", "cpu", *args])
    assert res.exit_code == 0, (res.output, res.exception)
    return {int(p.stem[4:]): np.asarray(Image.open(p)) for p in sorted(outdir.iterdir())}


@pytest.mark.parametrize("arch", ["sg1", "sg2", "sg3"])
def test_image_draws_what_the_loaded_generator_draws(files, arch, tmp_path):
    G = load_generator(files[arch], device="cpu")
    got = run_image(files[arch], tmp_path / "a", "--seeds", "2,5", "--psi", "0.6", "--cutoff", "3")
    assert sorted(got) == [2, 5]
    assert got[5].shape == (64, 64, 3)
    assert np.array_equal(got[5], official_uint8(G, [2, 5], 0.6, 3))
    assert not np.array_equal(got[2], got[5])


def test_image_defaults_to_the_files_truncation_and_flags_override_it(files, tmp_path):
    G = load_generator(files["sg1"], device="cpu")
    default = run_image(files["sg1"], tmp_path / "d", "--seeds", "4")[4]
    assert np.array_equal(default, official_uint8(G, 4, 0.7, 8))        # the official Gs.run default
    off = run_image(files["sg1"], tmp_path / "p1", "--seeds", "4", "--psi", "1")[4]
    assert np.array_equal(off, official_uint8(G, 4, 1.0, None)) and not np.array_equal(off, default)
    all_ws = run_image(files["sg1"], tmp_path / "c", "--seeds", "4", "--cutoff", "10")[4]
    assert np.array_equal(all_ws, official_uint8(G, 4, 0.7, 10)) and not np.array_equal(all_ws, default)
    G2 = load_generator(files["sg2"], device="cpu")                       # nothing stored: psi 1
    assert np.array_equal(run_image(files["sg2"], tmp_path / "s2", "--seeds", "4")[4], official_uint8(G2, 4, 1.0, None))


def test_image_class_idx_of_a_conditional_model(files, tmp_path):
    G = load_generator(files["sg2-cond"], device="cpu")
    got = run_image(files["sg2-cond"], tmp_path / "c", "--seeds", "1", "--class-idx", "2")[1]
    c = torch.zeros(1, 3)
    c[0, 2] = 1
    assert np.array_equal(got, official_uint8(G, 1, 1.0, None, c))
    other = run_image(files["sg2-cond"], tmp_path / "c0", "--seeds", "1", "--class-idx", "0")[1]
    assert not np.array_equal(got, other)


@pytest.mark.parametrize("name, args, needle", [
    ("sg2-cond", [], "--class-idx"),
    ("sg2-cond", ["--class-idx", "3"], "out of range"),
    ("sg2-cond", ["--class-idx", "-1"], "out of range"),
    ("sg2", ["--class-idx", "0"], "unconditional"),
    ("sg1", ["--cutoff", "11"], "--cutoff 11 is out of range"),
    ("sg1", ["--psi", "nan"], "--psi"),
])
def test_image_bad_flags_are_one_line_errors(files, tmp_path, capsys, name, args, needle):
    outdir = tmp_path / "o"
    with pytest.raises(SystemExit) as exc:
        main(["image", str(files[name]), "--seeds", "1", "-o", str(outdir), "-q", "--device", "cpu", *args])
    captured = capsys.readouterr()
    lines = [line for line in (captured.out + captured.err).splitlines() if line.strip()]
    assert exc.value.code == 2 and len(lines) == 1 and lines[0].startswith("error:"), lines
    assert needle in lines[0]
    assert not outdir.exists() or not any(outdir.iterdir())            # nothing written


def test_render_also_defaults_to_the_files_truncation(files, tmp_path):
    """render without --psi: keys shown with the file's psi 0.7 on ws[:8]; --psi 1 turns it off."""
    G = load_generator(files["sg1"], device="cpu")
    z = torch.from_numpy(z_from_seed(3, G.z_dim)).float()
    for flags, psi, cutoff in (([], 0.7, 8), (["--psi", "1"], 1.0, None), (["--cutoff", "2"], 0.7, 2)):
        lat = tmp_path / f"plan{len(flags)}{psi}.npz"
        res = CliRunner().invoke(app, ["render", str(files["sg1"]), "--seeds", "3,6", "--frames", "2", "-q", "--device", "cpu",
                                       "-o", f"{tmp_path}/frames{len(flags)}{psi}/", "--save-latents", str(lat), *flags])
        assert res.exit_code == 0, (res.output, res.exception)
        with np.load(lat) as data:
            ws0 = data["ws.npy"][0] if "ws.npy" in data.files else data["ws"][0]
        assert torch.equal(torch.from_numpy(ws0), G.mapping(z, truncation_psi=psi, truncation_cutoff=cutoff)[0])
