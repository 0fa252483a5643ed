"""Far validation sets: upscaled and re-composited held-out examples, named and deterministic."""

import numpy as np
import pytest

from matting.data.datasets import Example
from matting.errors import MattingInputError
from matting.inputs import augment, far_sets
from tests.conftest import two_colour_example


def example(name="GT02", seed=0):
  image, trimap, alpha = two_colour_example(seed=seed)
  return Example(name=name, image=image, trimap=trimap, alpha=alpha)


def test_upscale_keeps_trimap_values_and_scales_size():
  base = example()
  big = far_sets.upscale_example(base, 2)
  assert big.name == "GT02_x2" and big.image.shape == (80, 100, 3)
  assert set(np.unique(big.trimap)) <= set(np.unique(base.trimap))
  np.testing.assert_array_equal(big.trimap[::2, ::2], base.trimap)  # Nearest neighbour.
  assert 0 <= big.alpha.min() and big.alpha.max() <= 1 and big.image.dtype == np.float32
  assert abs(big.alpha.mean() - base.alpha.mean()) < 0.01


def test_recomposite_changes_the_background_only():
  base = example()
  background = np.zeros((10, 10, 3), np.float32)
  background[..., 1] = 1.0
  (new,) = far_sets.recomposite_examples([base], [background])
  assert new.name == "GT02_bg0"
  np.testing.assert_array_equal(new.alpha, base.alpha)
  np.testing.assert_array_equal(new.trimap, base.trimap)
  bg = base.alpha == 0
  np.testing.assert_allclose(new.image[bg], [[0, 1, 0]] * int(bg.sum()), atol=1e-6)


def test_far_sets_from_config():
  cfg = far_sets.far_config()
  cfg.sets = ("upscaled_2x", "upscaled_3x")
  sets = far_sets.far_validation_sets(cfg, {"alphamatting_Trimap1": [example()]})
  assert [e.name for e in sets["upscaled_3x"]] == ["GT02_x3"]
  assert sets["upscaled_3x"][0].alpha.shape == (120, 150)


@pytest.mark.parametrize("sets, field", [(("nope",), "far.sets"),
                                         (("recomposited",), "far.background_files")])
def test_bad_far_config_names_the_field(sets, field):
  cfg = far_sets.far_config()
  cfg.sets = sets
  with pytest.raises(MattingInputError) as error:
    far_sets.far_validation_sets(cfg, {"alphamatting_Trimap1": [example()]})
  assert error.value.field == field


def test_crop_around_unknown_bounds_pixels_and_keeps_an_unknown_pixel():
  image, trimap, alpha = two_colour_example(80, 100)
  rng = np.random.default_rng(0)
  out = augment.crop_around_unknown(rng, image, alpha, trimap, 2000)
  assert out[1].size <= 2000 and out[0].shape[:2] == out[1].shape == out[2].shape
  assert ((out[2] > 0.1) & (out[2] < 0.9)).any()
  same = augment.crop_around_unknown(rng, image, alpha, trimap, 10**6)
  assert same[0] is image


def test_kind_subsets_split_the_second_generator_set_by_structure(tmp_path):
  """Each kind that some but not all images hold gives a 'with' and a 'without' subset that
  partition the set, agreeing with the kinds each example was drawn with; the report shows
  their means (the mean of exactly those images' rows)."""
  import ml_collections

  from matting import runner
  from matting.data import synthetic_v2
  cfg = ml_collections.ConfigDict(far_sets.far_config())
  names = [f"syn2_{i:05d}" for i in range(6)]
  val_sets = {"synthetic_v2": [Example(name=n, image=None, trimap=None, alpha=None)
                               for n in names]}
  subsets = far_sets.kind_subsets(cfg, val_sets)
  assert subsets and far_sets.kind_subsets(cfg, {"upscaled_2x": []}) == {}
  for label, (set_name, members) in subsets.items():
    assert set_name == "synthetic_v2"
    kind = label.rsplit(" ", 1)[-1]
    holds = [kind in synthetic_v2.example_kinds(cfg.synthetic_v2.seed, n) for n in members]
    assert all(holds) if " with " in label else not any(holds)
    other = label.replace(" with ", " without ") if " with " in label else \
        label.replace(" without ", " with ")
    assert sorted(members + subsets[other][1]) == names
  child = np.random.SeedSequence(cfg.synthetic_v2.seed).spawn(4)[3]
  assert synthetic_v2.example_kinds(cfg.synthetic_v2.seed, "syn2_00003") == \
      synthetic_v2.structure_kinds(child)
  with pytest.raises(ValueError, match="GT01"):
    synthetic_v2.example_kinds(1, "GT01")
  rows = [{"set": "synthetic_v2", "image": n, "method": "cf", "sad": float(i), "mse": 0.0,
           "grad": 0.0, "conn": 0.0, "seconds": 1.0} for i, n in enumerate(names)]
  label, (_, members) = next(iter(subsets.items()))
  text = runner.write_tables(str(tmp_path), "t", rows, {label: ("synthetic_v2", members)})
  assert "by structure" in text and label in text
  assert f"{np.mean([names.index(n) for n in members]):.4g}" in text
