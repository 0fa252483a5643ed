"""Tests for matting.data.synthetic_v2: determinism, ranges, the trimap, fractional α and the
structure kinds, on small images with random-texture 'photos'."""

import numpy as np
import pytest

from matting.data import synthetic, synthetic_v2
from matting.data.trimap import trimap_masks
from matting.errors import MattingInputError

H, W = 240, 320
SEEDS = range(12)


@pytest.fixture(scope="module")
def photos():
  """Three colourful random textures of different sizes standing in for photographs."""
  rng = np.random.default_rng(123)
  return [synthetic.make_background(rng, h, w) for h, w in ((200, 260), (300, 240), (180, 180))]


@pytest.fixture(scope="module")
def examples(photos):
  return [synthetic_v2.make_example_v2(seed, photos, height=H, width=W) for seed in SEEDS]


def test_same_seed_gives_identical_arrays(photos, examples):
  again = synthetic_v2.make_example_v2(3, photos, height=H, width=W)
  for field in ("image", "trimap", "alpha"):
    np.testing.assert_array_equal(getattr(again, field), getattr(examples[3], field))
  assert again.name == examples[3].name == "syn2_00003"


def test_different_seeds_differ(examples):
  for field in ("image", "alpha"):
    assert not np.array_equal(getattr(examples[0], field), getattr(examples[1], field))


def test_shapes_dtypes_and_ranges(examples):
  for ex in examples:
    assert ex.image.shape == (H, W, 3) and ex.image.dtype == np.float32
    assert ex.alpha.shape == ex.trimap.shape == (H, W)
    assert ex.alpha.dtype == ex.trimap.dtype == np.float32
    assert 0.0 <= ex.image.min() and ex.image.max() <= 1.0
    assert 0.0 <= ex.alpha.min() and ex.alpha.max() <= 1.0
    assert set(np.unique(ex.trimap)) <= {0.0, 0.5, 1.0}


def test_trimap_regions_and_fractional_alpha(examples):
  for ex in examples:
    fg, bg, unknown = trimap_masks(ex.trimap)
    assert fg.any() and bg.any() and unknown.any(), ex.name
    assert np.all(ex.alpha[fg] == 1.0) and np.all(ex.alpha[bg] == 0.0), ex.name
    partial = (ex.alpha > 0.05) & (ex.alpha < 0.95)
    assert partial[unknown].mean() > 0.05, ex.name
    assert np.all(unknown[(ex.alpha > 0) & (ex.alpha < 1)]), ex.name
  fractions = [trimap_masks(ex.trimap)[2].mean() for ex in examples]
  assert 0.08 < np.median(fractions) < 0.45


def test_every_structure_kind_appears(examples):
  drawn = [synthetic_v2.structure_kinds(seed) for seed in SEEDS]
  assert all(1 <= len(kinds) <= 3 and len(set(kinds)) == len(kinds) for kinds in drawn)
  assert set().union(*drawn) == set(synthetic_v2.KINDS)


def test_each_kind_alone_gives_fg_bg_and_partial_alpha(photos, monkeypatch):
  for kind in synthetic_v2.KINDS:
    monkeypatch.setattr(synthetic_v2, "_draw_kinds", lambda rng, kind=kind: (kind,))
    ex = synthetic_v2.make_example_v2(0, photos, height=H, width=W)
    fg, bg, unknown = trimap_masks(ex.trimap)
    assert fg.any() and bg.any(), kind
    assert ((ex.alpha > 0.05) & (ex.alpha < 0.95))[unknown].mean() > 0.05, kind


def test_set_keeps_first_examples_when_it_grows(photos):
  small = synthetic_v2.synthetic_v2_set(5, 2, photos, height=96, width=128)
  large = synthetic_v2.synthetic_v2_set(5, 3, photos, height=96, width=128)
  assert [ex.name for ex in large] == ["syn2_00000", "syn2_00001", "syn2_00002"]
  for a, b in zip(small, large):
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.alpha, b.alpha)
  assert not np.array_equal(large[0].alpha, large[1].alpha)


def test_single_photo_and_bad_inputs(photos):
  ex = synthetic_v2.make_example_v2(1, photos[:1], height=96, width=128)
  assert ex.image.shape == (96, 128, 3)
  with pytest.raises(MattingInputError):
    synthetic_v2.make_example_v2(0, [], height=96, width=128)
  with pytest.raises(MattingInputError):
    synthetic_v2.make_example_v2(0, [np.zeros((10, 10))], height=96, width=128)
  with pytest.raises(MattingInputError):
    synthetic_v2.make_example_v2(0, photos, height=32, width=128)
  with pytest.raises(MattingInputError):
    synthetic_v2.synthetic_v2_set(0, 0, photos, height=96, width=128)


def test_set_of_chosen_kinds_keeps_the_children_that_hold_one(photos):
  """kinds=('fur',) skips the children without fur; the kept ones are the same examples, under
  the same names, as in the unfiltered set."""
  drawn = [synthetic_v2.structure_kinds(child) for child in np.random.SeedSequence(5).spawn(8)]
  with_fur = [index for index, kinds in enumerate(drawn) if "fur" in kinds][:2]
  assert len(with_fur) == 2 and with_fur != [0, 1]  # The filter skips some children here.
  fur = synthetic_v2.synthetic_v2_set(5, 2, photos, height=96, width=128, kinds=("fur",))
  every = synthetic_v2.synthetic_v2_set(5, with_fur[-1] + 1, photos, height=96, width=128)
  assert [ex.name for ex in fur] == [f"syn2_{index:05d}" for index in with_fur]
  for ex, index in zip(fur, with_fur):
    np.testing.assert_array_equal(ex.alpha, every[index].alpha)
  with pytest.raises(MattingInputError, match="kinds: expected some of .*'hair'"):
    synthetic_v2.synthetic_v2_set(5, 2, photos, height=96, width=128, kinds=("fur", "hair"))
