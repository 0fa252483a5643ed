"""Training data assembly: the background pool, and every experiment file's config in each mode."""

import importlib
import pathlib

import imageio.v3 as iio
import numpy as np
import pytest

from experiments import common
from matting.data.datasets import Example
from matting.errors import MattingInputError
from matting.inputs import training_set
from tests.conftest import two_colour_example

EXPERIMENTS = sorted(p.stem for p in (pathlib.Path(__file__).resolve().parents[1]
                                      / "experiments").glob("*.py")
                     if p.stem not in ("__init__", "common"))


def _examples():
  image, trimap, alpha = two_colour_example(20, 30)
  return [Example(name="a", image=image, trimap=trimap, alpha=alpha)]


def test_backgrounds_add_every_image_of_background_dirs(tmp_path):
  for i in range(3):
    iio.imwrite(tmp_path / f"bg{i}.png", np.full((8, 9, 3), 40 * i, np.uint8))
  aug = common.train_config("smoke").augment
  aug.update(num_backgrounds=2, photo_backgrounds=False, background_dirs=(str(tmp_path),))
  pool = training_set.backgrounds(_examples(), aug, seed=0)
  assert len(pool) == 2 + 3
  assert [bg.shape for bg in pool[:2]] == [(20, 30, 3)] * 2  # Synthetic: the largest size.
  np.testing.assert_allclose([bg.mean() for bg in pool[2:]], [0, 40 / 255, 80 / 255], atol=1e-6)
  aug.background_dirs = (str(tmp_path / "missing"),)
  with pytest.raises(MattingInputError, match="missing"):
    training_set.backgrounds(_examples(), aug, seed=0)


@pytest.mark.parametrize("name", EXPERIMENTS)
@pytest.mark.parametrize("mode", common.MODES)
def test_every_experiment_config_and_sweep_resolve(name, mode):
  module = importlib.import_module(f"experiments.{name}")
  cfg = module.get_config(mode)
  points = module.sweep(mode)
  assert points and all(isinstance(p, dict) for p in points)
  for point in points:
    overrides = {k: v for k, v in point.items() if k != "name"}
    resolved = cfg.copy_and_resolve_references()
    resolved.update_from_flattened_dict(overrides)
    for key, value in overrides.items():
      node = resolved
      for part in key.split("."):
        node = node[part]
      assert (tuple(node) if isinstance(value, tuple) else node) == value, (name, key)


def test_pretrained_recipe_meets_the_paper_scale():
  cfg = importlib.import_module("experiments.pretrained").get_config("cpu")
  assert cfg.patches.num_patches >= 100_000
  assert cfg.inputs.combination == "rgb_cf_knn" and cfg.model.num_remap_layers == 4
  assert set(cfg.data.trimaps) == {"Trimap1", "Trimap2"} and cfg.data.dir


def test_patch_set_key_follows_background_folder_contents(tmp_path):
  cfg = common.train_config("smoke")
  plain = training_set.patch_set_key(cfg)
  cfg.augment.background_dirs = (str(tmp_path),)
  iio.imwrite(tmp_path / "bg.png", np.zeros((4, 4, 3), np.uint8))
  first = training_set.patch_set_key(cfg)
  assert first != plain and training_set.patch_set_key(cfg) == first
  iio.imwrite(tmp_path / "bg.png", np.full((4, 4, 3), 9, np.uint8))
  assert training_set.patch_set_key(cfg) != first
