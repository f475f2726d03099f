"""The procedural chibi data set: deterministic, varied over every factor, drawn anti-aliased."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from interpolate.train import chibi_draw
from interpolate.train import chibi_factors as cf
from interpolate.train import dataset as ds


def test_image_is_a_pure_function_of_seed_and_index():
    a = ds.chibi_image(0, 7)
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, ds.chibi_image(0, 7))
    assert not np.array_equal(a, ds.chibi_image(0, 8))
    assert not np.array_equal(a, ds.chibi_image(1, 7))
    batch = ds.chibi_images(0, 3, start=6)
    assert np.array_equal(batch[1], a)


@pytest.mark.parametrize("size", [16, 32, 128])
def test_other_sizes_draw_the_same_picture(size):
    small = ds.chibi_image(3, 2, size=size).astype(np.float32)
    ref = np.asarray(Image.fromarray(ds.chibi_image(3, 2, size=256)).resize((size, size), Image.BOX), np.float32)
    assert small.shape == (size, size, 3)
    assert np.abs(small - ref).mean() < 12


def test_factors_cover_every_option_of_every_scale():
    rng = np.random.default_rng(0)
    params = [cf.sample_params(rng) for _ in range(600)]
    for field, options in [("hair_style", cf.HAIR_STYLES), ("bangs", cf.BANGS), ("face_shape", cf.FACE_SHAPES),
                           ("eye_shape", cf.EYE_SHAPES), ("brows", cf.BROWS), ("mouth", cf.MOUTHS),
                           ("accessory", cf.ACCESSORIES)]:
        assert {getattr(p, field) for p in params} == set(options), field
    tilts = np.array([p.tilt for p in params])
    assert tilts.min() < -8 and tilts.max() > 8
    red_eyes = [p for p in params if p.eye[0] > 150 and p.eye[1] < 60 and p.eye[2] < 60]
    assert 0.1 < len(red_eyes) / len(params) < 0.4
    assert len({p.hair for p in params}) > 500 and len({p.background for p in params}) > 500
    blush = np.array([p.blush for p in params])
    assert (blush == 0).mean() > 0.05 and blush.max() > 0.7


def test_portrait_is_a_face_on_a_plain_background():
    p = ds.chibi_params(0, 11)
    img = np.asarray(chibi_draw.draw_chibi(p, 64), np.int32)
    corner = img[:4, :4].reshape(-1, 3).mean(axis=0)
    assert np.abs(corner - np.array(p.background)).max() < 12           # plain background at the top corners
    skin = np.abs(img - np.array(p.skin)).sum(axis=2) < 30
    assert skin[20:50, 16:48].mean() > 0.15                              # a face in the middle
    eye = np.abs(img - np.array(p.eye)).sum(axis=2) < 60
    assert eye[20:50, 10:54].sum() >= 4 or p.eye_shape == "happy"       # eyes of the drawn colour


def test_anti_aliased_edges():
    img = ds.chibi_image(0, 4, supersample=2)
    hard = ds.chibi_image(0, 4, supersample=1)
    def distinct(a): return len(np.unique(a.reshape(-1, 3), axis=0))
    assert distinct(img) > 1.2 * distinct(hard)   # in-between edge colours


def test_contact_sheet_layout():
    imgs = ds.chibi_images(0, 5, size=16)
    sheet = ds.contact_sheet(imgs, cols=3, pad=2)
    assert sheet.size == (3 * 18 + 2, 2 * 18 + 2)
    assert np.array_equal(np.asarray(sheet)[2:18, 20:36], imgs[1])


def test_cli_writes_sheet_and_pngs(tmp_path):
    from typer.testing import CliRunner

    from interpolate.cli import app

    result = CliRunner().invoke(app, ["dataset", "--n", "4", "--size", "32", "--contact-sheet",
                                      str(tmp_path / "sheet.png"), "-o", str(tmp_path / "imgs")])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "sheet.png").size == (2 * 34 + 2, 2 * 34 + 2)
    pngs = sorted((tmp_path / "imgs").glob("*.png"))
    assert len(pngs) == 4 and np.array_equal(np.asarray(Image.open(pngs[2])), ds.chibi_image(0, 2, 32))
    assert not list(tmp_path.glob("**/*.tmp.png"))


def test_cli_with_nothing_to_write_is_one_line_exit_2(capsys):
    from interpolate.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["dataset", "--n", "2"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--contact-sheet" in err
