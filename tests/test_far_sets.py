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
