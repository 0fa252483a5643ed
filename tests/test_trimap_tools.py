"""Trimaps from masks (`matting trimap`) and from scribbles (sparse FG/BG strokes)."""

import imageio.v3 as iio
import numpy as np
import pytest

from matting import cli
from matting.classic import strokes
from matting.data import io, trimap_tools
from matting.errors import MattingInputError
from tests.conftest import two_colour_example


def disc_mask(height=60, width=80, radius=20.0):
  y, x = np.mgrid[:height, :width]
  return (np.hypot(y - height / 2, x - width / 2) <= radius).astype(np.float32)


def test_band_is_centred_on_the_mask_edge_with_the_asked_width():
  mask = disc_mask()
  trimap = trimap_tools.trimap_from_mask(mask, unknown_width=8)
  assert set(np.unique(trimap)) == {0.0, 0.5, 1.0}
  assert np.all(mask[trimap == 1.0] == 1) and np.all(mask[trimap == 0.0] == 0)
  # Along the middle row the disc spans x in [20, 60]; the band covers 4 px each side.
  row = trimap[30]
  unknown = np.flatnonzero(row == 0.5)
  left = unknown[unknown < 40]
  assert 7 <= len(left) <= 9 and left.min() >= 14 and left.max() <= 25
  assert row[40] == 1.0 and row[0] == 0.0


def test_wider_band_means_more_unknown_and_default_scales_with_the_diagonal():
  mask = disc_mask()
  narrow = trimap_tools.trimap_from_mask(mask, 4)
  wide = trimap_tools.trimap_from_mask(mask, 12)
  assert (wide == 0.5).sum() > 2 * (narrow == 0.5).sum()
  assert trimap_tools.default_unknown_width(600, 800) == pytest.approx(10.0)
  assert trimap_tools.default_unknown_width(30, 40) == 3.0  # Floor for tiny images.


def test_soft_mask_is_thresholded_at_one_half():
  soft = disc_mask() * 0.6 + 0.2  # 0.8 inside, 0.2 outside.
  np.testing.assert_array_equal(trimap_tools.trimap_from_mask(soft, 6),
                                trimap_tools.trimap_from_mask(disc_mask(), 6))


@pytest.mark.parametrize("mask, message", [
    (np.zeros((20, 20)), "no foreground"), (np.ones((20, 20)), "no background")])
def test_empty_or_full_masks_are_refused(mask, message):
  with pytest.raises(MattingInputError, match=message):
    trimap_tools.trimap_from_mask(mask)


def test_band_that_swallows_the_object_names_the_flag():
  with pytest.raises(MattingInputError, match="narrower") as info:
    trimap_tools.trimap_from_mask(disc_mask(radius=3), unknown_width=10)
  assert info.value.field == "unknown_width"


def test_trimap_command_writes_a_readable_trimap(tmp_path, capsys):
  iio.imwrite(tmp_path / "mask.png", (disc_mask() * 255).astype(np.uint8))
  out = tmp_path / "trimap.png"
  assert cli.main(["trimap", str(tmp_path / "mask.png"), "-o", str(out),
                   "--unknown-width", "6"]) == 0
  assert "unknown" in capsys.readouterr().out
  np.testing.assert_array_equal(io.read_trimap(out), trimap_tools.trimap_from_mask(disc_mask(), 6))
  assert cli.main(["trimap", str(tmp_path / "mask.png"), "-o", str(tmp_path / "x.png"),
                   "--unknown-width", "-1"]) == 2
  assert "--unknown-width must be a positive" in capsys.readouterr().err
  assert not (tmp_path / "x.png").exists()


def strokes_for(alpha):
  """Two short FG strokes in the disc's centre and BG strokes along two borders."""
  scribbles = np.full(alpha.shape, 0.5, np.float32)
  h, w = alpha.shape
  scribbles[h // 2 - 1:h // 2 + 2, w // 2 - 6:w // 2 + 6] = 1.0
  scribbles[1:3, 2:w - 2] = 0.0
  scribbles[2:h - 2, 1:3] = 0.0
  return scribbles


def test_scribbles_are_detected_by_their_known_fraction():
  _, trimap, alpha = two_colour_example()
  assert not trimap_tools.looks_like_scribbles(trimap)
  assert trimap_tools.looks_like_scribbles(strokes_for(alpha))


def test_scribbles_become_a_trimap_that_agrees_with_the_truth():
  image, _, alpha = two_colour_example(60, 70)
  scribbles = strokes_for(alpha)
  trimap, used = strokes.prepare_trimap(image, scribbles)
  assert used
  assert trimap_tools.known_fraction(trimap) > 2 * trimap_tools.known_fraction(scribbles)
  assert np.all(alpha[trimap == 1.0] > 0.9) and np.all(alpha[trimap == 0.0] < 0.1)
  assert trimap[scribbles == 1.0].min() == 1.0 and trimap[scribbles == 0.0].max() == 0.0
  # Forced off, the strokes are used as they are.
  assert strokes.prepare_trimap(image, scribbles, scribbles=False)[0] is scribbles


def test_large_scribbles_are_propagated_at_reduced_resolution():
  image, _, alpha = two_colour_example(90, 120)
  scribbles = strokes_for(alpha)
  small = strokes.propagate_scribbles(image, scribbles, solve_pixels=90 * 120 // 4)
  full = strokes.propagate_scribbles(image, scribbles, solve_pixels=10**9)
  assert small.shape == alpha.shape
  assert np.abs(small - full).mean() < 0.05


def test_matte_predicts_a_trimap_once_and_scribbles_twice():
  image, trimap, alpha = two_colour_example(60, 70)
  calls = []

  def fake_predict(image, trimap):
    calls.append(trimap)
    return alpha

  assert strokes.matte(image, trimap, fake_predict)[1] is False
  assert len(calls) == 1 and calls[0] is trimap
  calls.clear()
  scribbles = strokes_for(alpha)
  result, used = strokes.matte(image, scribbles, fake_predict)
  assert used and result is alpha and len(calls) == 2
  # The second trimap is read from the first pass's matte, strokes kept.
  np.testing.assert_array_equal(calls[1], trimap_tools.trimap_from_alpha(alpha, scribbles))
