"""Tests for matting.datasets: the alphamatting.com layout, the synthetic set, dataset specs."""

import dataclasses
import os
import re

import imageio.v3 as iio
import numpy as np
import pytest

from matting.data import datasets
from matting.data.trimap import trimap_masks
from matting.errors import MattingInputError
from tests.conftest import ALPHAMATTING, two_colour_example

FAKE_NAMES = ("GT01", "GT02", "GT04")  # GT03 is missing on purpose.


def _as_uint8(array):
  return np.round(np.asarray(array) * 255).astype(np.uint8)


def _write_layout(root, names=FAKE_NAMES):
  """Writes a tiny alphamatting.com training layout; returns {name: (image, trimap, alpha)}."""
  written = {}
  for index, name in enumerate(names):
    image, trimap, alpha = two_colour_example(height=30 + index, width=40, seed=index)
    files = {datasets.ALPHAMATTING_INPUT: image, datasets.ALPHAMATTING_GT: alpha}
    for kind in datasets.TRIMAP_KINDS:
      files[os.path.join(datasets.ALPHAMATTING_TRIMAPS, kind)] = trimap
    for folder, array in files.items():
      os.makedirs(root / folder, exist_ok=True)
      iio.imwrite(root / folder / f"{name}.png", _as_uint8(array))
    written[name] = (image, trimap, alpha)
  return written


def test_list_alphamatting_discovers_present_names(tmp_path):
  _write_layout(tmp_path)
  assert datasets.list_alphamatting(tmp_path) == list(FAKE_NAMES)
  assert datasets.list_alphamatting(tmp_path, trimap="Trimap2") == list(FAKE_NAMES)


def test_load_alphamatting_reads_every_file(tmp_path):
  written = _write_layout(tmp_path)
  examples = datasets.load_alphamatting(tmp_path)
  assert [ex.name for ex in examples] == list(FAKE_NAMES)
  for ex in examples:
    image, trimap, alpha = written[ex.name]
    assert ex.image.dtype == ex.trimap.dtype == ex.alpha.dtype == np.float32
    np.testing.assert_allclose(ex.image, _as_uint8(image) / 255.0, atol=1e-6)
    np.testing.assert_array_equal(ex.trimap, trimap)
    np.testing.assert_allclose(ex.alpha, _as_uint8(alpha) / 255.0, atol=1e-6)


def test_load_alphamatting_subset_keeps_the_given_order(tmp_path):
  _write_layout(tmp_path)
  examples = datasets.load_alphamatting(tmp_path, trimap="Trimap2", names=["GT04", "GT01"])
  assert [ex.name for ex in examples] == ["GT04", "GT01"]
  assert examples[0].image.shape == (32, 40, 3)


def test_unknown_name_raises_and_lists_present(tmp_path):
  _write_layout(tmp_path)
  with pytest.raises(MattingInputError, match="GT03.*present: GT01, GT02, GT04"):
    datasets.load_alphamatting(tmp_path, names=["GT03"])


def test_missing_root_raises_naming_it(tmp_path):
  with pytest.raises(MattingInputError, match=re.escape(str(tmp_path / "nope"))):
    datasets.load_alphamatting(tmp_path / "nope")


@pytest.mark.parametrize("folder", [datasets.ALPHAMATTING_INPUT, datasets.ALPHAMATTING_GT,
                                    os.path.join(datasets.ALPHAMATTING_TRIMAPS, "Trimap1")])
def test_missing_subfolder_raises_naming_it(tmp_path, folder):
  _write_layout(tmp_path)
  for file in os.listdir(tmp_path / folder):
    os.remove(tmp_path / folder / file)
  os.rmdir(tmp_path / folder)
  with pytest.raises(MattingInputError, match=re.escape(str(tmp_path / folder))):
    datasets.load_alphamatting(tmp_path)


def test_file_missing_from_one_folder_raises_naming_it(tmp_path):
  _write_layout(tmp_path)
  os.remove(tmp_path / datasets.ALPHAMATTING_GT / "GT02.png")
  with pytest.raises(MattingInputError, match="gt_training_lowres.*GT02.png"):
    datasets.list_alphamatting(tmp_path)


def test_empty_layout_raises(tmp_path):
  _write_layout(tmp_path, names=())
  for folder in (datasets.ALPHAMATTING_INPUT, datasets.ALPHAMATTING_GT,
                 os.path.join(datasets.ALPHAMATTING_TRIMAPS, "Trimap1")):
    os.makedirs(tmp_path / folder)
  with pytest.raises(MattingInputError, match="no .png images"):
    datasets.load_alphamatting(tmp_path)


def test_size_mismatch_raises_naming_the_file(tmp_path):
  _write_layout(tmp_path)
  gt_path = tmp_path / datasets.ALPHAMATTING_GT / "GT02.png"
  iio.imwrite(gt_path, np.zeros((10, 12), np.uint8))
  with pytest.raises(MattingInputError, match=re.escape(str(gt_path))):
    datasets.load_alphamatting(tmp_path)


def test_unknown_trimap_kind_raises(tmp_path):
  _write_layout(tmp_path)
  with pytest.raises(MattingInputError, match="Trimap3"):
    datasets.load_alphamatting(tmp_path, trimap="Trimap3")


def test_synthetic_set_names_and_determinism():
  first = datasets.synthetic_set(seed=3, num=2, height=64, width=80)
  again = datasets.synthetic_set(seed=3, num=3, height=64, width=80)
  other = datasets.synthetic_set(seed=4, num=2, height=64, width=80)
  assert [ex.name for ex in again] == ["syn000", "syn001", "syn002"]
  for a, b, c in zip(first, again, other):  # A larger set starts with the same examples.
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.alpha, b.alpha)
    np.testing.assert_array_equal(a.trimap, b.trimap)
    assert not np.array_equal(a.image, c.image)
  assert not np.array_equal(first[0].alpha, first[1].alpha)
  for ex in again:
    assert ex.image.shape == (64, 80, 3) and ex.image.dtype == np.float32
    fg, bg, unknown = trimap_masks(ex.trimap)
    assert fg.any() and bg.any() and unknown.any()


def test_example_is_frozen():
  ex = datasets.Example(name="x", image=np.zeros((2, 2, 3), np.float32),
                        trimap=np.zeros((2, 2), np.float32))
  assert ex.alpha is None
  with pytest.raises(dataclasses.FrozenInstanceError):
    ex.name = "y"


def test_real_alphamatting_layout():
  names = datasets.list_alphamatting(ALPHAMATTING)
  assert "GT01" in names and all(re.fullmatch(r"GT\d\d", n) for n in names)
  (example,) = datasets.load_alphamatting(ALPHAMATTING, trimap="Trimap1", names=["GT01"])
  assert example.image.shape == (497, 800, 3) and example.alpha.shape == (497, 800)
  fg, bg, unknown = trimap_masks(example.trimap)
  assert unknown.any()
  # GT and trimap belong together: the trimap's known regions match the GT matte.
  assert example.alpha[fg].mean() > 0.95 and example.alpha[bg].mean() < 0.05


def test_load_images_reads_every_image_sorted(tmp_path):
  iio.imwrite(tmp_path / "b.png", np.full((4, 5, 3), 255, np.uint8))
  iio.imwrite(tmp_path / "a.jpg", np.zeros((6, 7, 3), np.uint8))
  (tmp_path / "notes.txt").write_text("not an image")
  images = datasets.load_images(tmp_path)
  assert [im.shape for im in images] == [(6, 7, 3), (4, 5, 3)]
  assert all(im.dtype == np.float32 for im in images)
  np.testing.assert_allclose(images[1], 1.0)


def test_load_images_rejects_missing_or_empty_folder(tmp_path):
  with pytest.raises(MattingInputError, match="absent"):
    datasets.load_images(tmp_path / "absent")
  with pytest.raises(MattingInputError, match="no .png or .jpg"):
    datasets.load_images(tmp_path)
