"""Cut-outs: colour parsing, background fitting, Eq. (1) compositing, and `matting cutout`."""

import os
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest

from matting import cli, predict
from matting.compose import cutout, foreground
from matting.data import io
from matting.errors import MattingInputError
from matting.training import checkpoints
from tests.test_weights import make_tiny_run

QUANTUM = 1 / 255


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
  return str(make_tiny_run(tmp_path_factory.mktemp("run")))


@pytest.mark.parametrize("text, rgb", [
    ("white", (255, 255, 255)), ("Black", (0, 0, 0)), ("green", (0, 255, 0)),
    ("#ff8000", (255, 128, 0)), ("#FF8000", (255, 128, 0)), ("10, 20,30", (10, 20, 30)),
])
def test_parse_color(text, rgb):
  np.testing.assert_allclose(cutout.parse_color(text), np.array(rgb) / 255, rtol=1e-6)


@pytest.mark.parametrize("text", ["mauvish", "#ff80", "1,2", "bg.png", ""])
def test_parse_color_returns_none_for_non_colours(text):
  assert cutout.parse_color(text) is None


def test_parse_color_rejects_out_of_range():
  with pytest.raises(MattingInputError, match="0,256,0") as error:
    cutout.parse_color("0,256,0")
  assert error.value.field == "background"


def test_cover_resize_keeps_aspect_and_centres():
  ramp = np.broadcast_to(np.linspace(0, 1, 40, dtype=np.float32)[None, :, None], (10, 40, 3))
  out = cutout.cover_resize(ramp, 20, 20)  # Scaled x2 to 20x80; the middle quarter is kept.
  assert out.shape == (20, 20, 3)
  assert 0.3 < out.min() and out.max() < 0.7
  np.testing.assert_allclose(out.mean(), 0.5, atol=0.02)
  assert np.all(np.diff(out[0, :, 0]) > 0)  # Not flipped, not squashed to a constant.
  small = cutout.cover_resize(ramp[:5, :8], 30, 12)
  assert small.shape == (30, 12, 3)


def test_composite_on_colour_and_image():
  fg = np.full((4, 5, 3), 0.8, np.float32)
  alpha = np.array([0.0, 0.25, 0.5, 1.0, 1.0], np.float32)[None, :].repeat(4, 0)
  out = cutout.composite_on(fg, alpha, np.array([0.0, 0.4, 1.0], np.float32))
  expected = alpha[..., None] * 0.8 + (1 - alpha[..., None]) * np.array([0.0, 0.4, 1.0])
  np.testing.assert_allclose(out, expected, atol=1e-6)
  background = np.random.default_rng(0).random((4, 5, 3)).astype(np.float32)
  out = cutout.composite_on(fg, alpha, background)
  np.testing.assert_allclose(out[:, 0], background[:, 0])
  np.testing.assert_allclose(out[:, 3:], fg[:, 3:])


def test_cutout_rgba_stacks_clipped_foreground_and_alpha():
  fg = np.array([[[1.2, 0.5, -0.1]]], np.float32)
  rgba = cutout.cutout_rgba(fg, np.array([[0.3]], np.float32))
  np.testing.assert_allclose(rgba, [[[1.0, 0.5, 0.0, 0.3]]])


def test_load_background(tmp_path):
  np.testing.assert_allclose(cutout.load_background("#000080", 3, 4)[2, 3], [0, 0, 128 / 255])
  iio.imwrite(tmp_path / "bg.png", np.full((6, 9, 3), 200, np.uint8))
  bg = cutout.load_background(str(tmp_path / "bg.png"), 12, 10)
  assert bg.shape == (12, 10, 3)
  np.testing.assert_allclose(bg, 200 / 255, atol=1e-6)
  (tmp_path / "broken.png").write_bytes(b"not a png")
  for spec in ("nocolour", str(tmp_path / "broken.png"), str(tmp_path / "absent.png")):
    with pytest.raises(MattingInputError) as error:
      cutout.load_background(spec, 3, 4)
    assert error.value.field == "background" and os.path.basename(spec) in str(error.value)


def run_cutout(example_files, out, tiny_run, *extra):
  return cli.main(["cutout", str(example_files["image"]), str(example_files["trimap"]),
                   "--checkpoint", tiny_run, "-o", str(out), *extra])


def expected_alpha_and_foreground(example_files, tiny_run):
  image, trimap = io.read_image_and_trimap(example_files["image"], example_files["trimap"])
  alpha = predict.predict_image(*checkpoints.restore_params(tiny_run)[:2], image, trimap)
  return image, trimap, alpha, foreground.estimate_foreground(image, alpha)[0]


def test_cli_cutout_writes_rgba(example_files, tmp_path, tiny_run):
  out = tmp_path / "cut.png"
  assert run_cutout(example_files, out, tiny_run) == 0
  rgba = iio.imread(out)
  image, _, alpha, fg = expected_alpha_and_foreground(example_files, tiny_run)
  assert rgba.dtype == np.uint8 and rgba.shape == image.shape[:2] + (4,)
  rgba = rgba / 255
  np.testing.assert_allclose(rgba[..., 3], alpha, atol=QUANTUM / 2 + 1e-6)
  np.testing.assert_allclose(rgba[..., :3], np.clip(fg, 0, 1), atol=QUANTUM / 2 + 1e-6)
  assert np.ptp(alpha) > 0


def test_cli_cutout_on_white(example_files, tmp_path, tiny_run):
  out = tmp_path / "white.png"
  assert run_cutout(example_files, out, tiny_run, "--background", "white") == 0
  rgb = iio.imread(out) / 255
  image, trimap, alpha, fg = expected_alpha_and_foreground(example_files, tiny_run)
  assert rgb.shape == image.shape
  np.testing.assert_array_equal(rgb[trimap == 0], 1.0)  # alpha = 0: the white background.
  # alpha = 1: F, which the smoothness prior keeps close to the (noisy) image.
  np.testing.assert_allclose(rgb[trimap == 1], fg[trimap == 1], atol=QUANTUM / 2 + 1e-6)
  assert np.abs(rgb[trimap == 1] - image[trimap == 1]).mean() < 0.01
  expected = alpha[..., None] * fg + (1 - alpha[..., None])
  np.testing.assert_allclose(rgb, np.clip(expected, 0, 1), atol=QUANTUM / 2 + 1e-6)


def test_cli_cutout_on_image(example_files, tmp_path, tiny_run):
  background = tmp_path / "bg.png"
  iio.imwrite(background, np.full((7, 11, 3), (0, 255, 0), np.uint8))
  out = tmp_path / "green.png"
  assert run_cutout(example_files, out, tiny_run, "--background", str(background)) == 0
  rgb = iio.imread(out)
  _, trimap, _, _ = expected_alpha_and_foreground(example_files, tiny_run)
  assert rgb.shape == trimap.shape + (3,)
  np.testing.assert_array_equal(rgb[trimap == 0], [[0, 255, 0]] * int((trimap == 0).sum()))


@pytest.mark.parametrize("spec", ["chartreuse-ish", "300,0,0", "{missing}"])
def test_cli_cutout_bad_background_exits_2(example_files, tmp_path, tiny_run, capsys, spec):
  out = tmp_path / "cut.png"
  spec = spec.format(missing=tmp_path / "missing.png")
  assert run_cutout(example_files, out, tiny_run, "--background", spec) == cli.EXIT_BAD_INPUT
  assert "--background" in capsys.readouterr().err
  assert not out.exists()


def test_cli_cutout_help(capsys):
  with pytest.raises(SystemExit) as exit_info:
    cli.main(["cutout", "--help"])
  assert exit_info.value.code == 0 and "--background" in capsys.readouterr().out


def test_rgba_cutout_needs_png(tmp_path, example_files):
  out = tmp_path / "cut.jpg"
  result = subprocess.run([sys.executable, "-m", "matting.cli", "cutout", example_files["image"],
                           example_files["trimap"], "--checkpoint", tmp_path / "none",
                           "-o", out], capture_output=True, text=True, timeout=300)
  assert result.returncode == 2 and "needs a .png" in result.stderr
  assert not out.exists()


def test_composite_is_equation_one():
  rng = np.random.default_rng(0)
  fg, bg = rng.random((2, 6, 7, 3)).astype(np.float32)
  alpha = rng.random((6, 7)).astype(np.float32)
  image = cutout.composite(fg, alpha, bg)
  assert image.dtype == np.float32
  np.testing.assert_allclose(image, alpha[..., None] * fg + (1 - alpha[..., None]) * bg,
                             atol=1e-6)
  np.testing.assert_array_equal(cutout.composite(fg, np.ones((6, 7)), bg), fg)
  np.testing.assert_array_equal(cutout.composite(fg, np.zeros((6, 7)), bg), bg)
  with pytest.raises(MattingInputError, match="do not match"):
    cutout.composite(fg, alpha[:5], bg)
