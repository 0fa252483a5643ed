"""Shared test fixtures: small image/trimap files and the optional real data location."""

import pathlib

import jax
import numpy as np
import pytest

# The tests hold formulations of the same function to float32 rounding (1e-5). On a GPU,
# JAX's default float32 matmuls and convolutions run as TF32 (alpha within ~1e-3 of float32,
# measured on an H200; BUILD_NOTES.md, the GPU path), which is not what they test. CPU
# computes float32 either way.
jax.config.update("jax_default_matmul_precision", "highest")

SHARED_DATA = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"
ALPHAMATTING = SHARED_DATA / "alphamatting"


def two_colour_example(height=40, width=50, seed=0):
  """A smooth-alpha blend of two distinct noisy colours, with its trimap and GT alpha."""
  rng = np.random.default_rng(seed)
  x = np.linspace(-1.0, 1.0, width)[None, :]
  y = np.linspace(-1.0, 1.0, height)[:, None]
  alpha = np.clip(0.5 - 2.0 * (np.sqrt(x**2 + y**2) - 0.5), 0.0, 1.0).astype(np.float32)
  fg = np.array([0.9, 0.3, 0.1], np.float32) + 0.02 * rng.standard_normal((height, width, 3))
  bg = np.array([0.1, 0.4, 0.9], np.float32) + 0.02 * rng.standard_normal((height, width, 3))
  image = np.clip(alpha[..., None] * fg + (1 - alpha[..., None]) * bg, 0, 1).astype(np.float32)
  trimap = np.full_like(alpha, 0.5)
  trimap[alpha >= 0.999] = 1.0
  trimap[alpha <= 0.001] = 0.0
  return image, trimap, alpha


BAD_SOLVER_INPUTS = ("no_fg", "no_bg", "shape", "channels", "nan")


def bad_solver_input(case):
  """(image, trimap) of `two_colour_example` damaged as `case` in BAD_SOLVER_INPUTS says."""
  image, trimap, _ = two_colour_example(20, 24)
  if case == "no_fg":
    trimap = np.where(trimap == 1.0, 0.5, trimap)
  elif case == "no_bg":
    trimap = np.where(trimap == 0.0, 0.5, trimap)
  elif case == "shape":
    trimap = trimap[:-1]
  elif case == "channels":
    image = image[..., :2]
  else:
    image = image.copy()
    image[3, 4, 1] = np.nan
  return image, trimap


@pytest.fixture
def example_files(tmp_path):
  """Writes a small image, trimap and GT matte as 8-bit PNGs; returns their paths."""
  import imageio.v3 as iio
  image, trimap, alpha = two_colour_example()
  paths = {name: tmp_path / f"{name}.png" for name in ("image", "trimap", "gt")}
  iio.imwrite(paths["image"], np.round(image * 255).astype(np.uint8))
  iio.imwrite(paths["trimap"], np.round(trimap * 255).astype(np.uint8))
  iio.imwrite(paths["gt"], np.round(alpha * 255).astype(np.uint8))
  return paths
