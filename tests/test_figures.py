"""Figures: valid PNGs of the expected size, written atomically; response maps of a tiny DCNN."""

import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest

from matting.reports import figures
from tests.conftest import two_colour_example

TINY_MODEL = dict(num_remap_layers=1, remap_widths=(8,), first_width=8, first_kernel=9,
                  last_kernel=5, conv_impl="auto", kernel_init="glorot_uniform")


def read_png(path):
  """The PNG's pixels; asserts no temporary file was left beside it."""
  assert path.exists()
  assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
  image = iio.imread(path)
  assert image.ndim == 3 and image.shape[2] in (3, 4)
  return image


def history(steps, val_steps, sets=("val",)):
  return {"train": [{"step": s, "loss": 1.0 / s, "mse": 1.0 / s, "mae": 0.5, "grad_norm": 2.0}
                    for s in steps],
          "val": [{"step": s, "sad": 3.0 / s,
                   **{name: {"val_loss": 1.0 / s, "sad": 3.0 / s, "mse": 0.1, "grad": 1.0,
                             "conn": 1.0, "seconds": 0.1} for name in sets}}
                  for s in val_steps]}


def test_import_loads_neither_matplotlib_nor_jax():
  code = ("import sys, matting.reports.figures; "
          "assert not {'matplotlib', 'jax'} & set(sys.modules), sorted(sys.modules)")
  subprocess.run([sys.executable, "-c", code], check=True)


def test_downscale_block_means():
  array = np.arange(7 * 9, dtype=np.float32).reshape(7, 9)
  small = figures.downscale(array, max_side=4)
  assert small.shape == (2, 3)
  assert small[0, 0] == pytest.approx(array[:3, :3].mean())
  np.testing.assert_array_equal(figures.downscale(array, max_side=9), array)
  assert figures.downscale(np.zeros((10, 20, 3)), 5).shape == (2, 5, 3)


@pytest.mark.parametrize("error_maps", [True, False])
def test_qualitative_grid(tmp_path, error_maps):
  image, trimap, gt = two_colour_example(height=40, width=50)
  rng = np.random.default_rng(0)
  panels = {"closed-form": np.clip(gt + 0.1 * rng.standard_normal(gt.shape), 0, 1),
            "KNN": gt[::-1], "DCNN 4 layers": gt}
  path = tmp_path / "grid.png"
  figures.qualitative_grid(path, image, trimap, gt, panels, title="example",
                           error_maps=error_maps)
  png = read_png(path)
  # Cells are >= 2 inches on the long side at 100 dpi: 6 columns of ~200 px, 1 or 2 rows.
  assert 6 * 200 <= png.shape[1] <= 6 * 200 * 1.4
  rows = 2 if error_maps else 1
  assert rows * 160 <= png.shape[0] <= rows * 160 * 1.6 + 60
  assert png[..., :3].std() > 0


def test_qualitative_grid_downscales_large_images(tmp_path):
  image, trimap, gt = two_colour_example(height=900, width=1200)
  path = tmp_path / "big.png"
  figures.qualitative_grid(path, image, trimap, gt, {"gt": gt}, max_side=300)
  png = read_png(path)
  assert png.shape[1] < 4 * 300 * 1.4
  assert path.stat().st_size < 2_000_000


def test_qualitative_grid_rejects_mismatched_panel(tmp_path):
  image, trimap, gt = two_colour_example(height=20, width=30)
  with pytest.raises(ValueError, match="shape"):
    figures.qualitative_grid(tmp_path / "bad.png", image, trimap, gt, {"x": gt[:10]})
  assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("histories", [
    {"a": history([10, 20, 30], [10, 20, 30]), "b": history([5], [5], sets=("v1", "v2"))},
    {"a": history([10, 20, 30], [])},
    {"empty": {"train": [], "val": []}},
], ids=["three_points_and_single", "empty_val", "empty_run"])
def test_loss_curves(tmp_path, histories):
  path = tmp_path / "curves.png"
  figures.loss_curves(path, histories)
  png = read_png(path)
  assert png.shape[:2] == (420, 1500)


def test_val_series_per_set():
  series = figures._val_series(history([1], [10, 20], sets=("v1", "v2")), "val_loss")
  assert sorted(series) == ["v1", "v2"]
  assert series["v1"] == ([10, 20], [0.1, 0.05])


def test_layer_responses_and_response_maps(tmp_path):
  import jax
  import jax.numpy as jnp

  from matting.models.dcnn import make_model
  model = make_model(TINY_MODEL)
  params = model.init(jax.random.key(0), jnp.zeros((1, 27, 27, 5)))
  rng = np.random.default_rng(0)
  patches = [rng.uniform(size=(27, 27, 5)).astype(np.float32) for _ in range(2)]

  layers = figures.layer_responses(params, TINY_MODEL, np.stack(patches))
  assert [label for label, _ in layers] == ["F1: structure", "F2: remap_1", "F3: alpha"]
  assert [r.shape for _, r in layers] == [(2, 19, 19, 8), (2, 19, 19, 8), (2, 15, 15, 1)]
  assert all((r >= 0).all() for _, r in layers[:-1])
  np.testing.assert_allclose(layers[-1][1], model.apply(params, jnp.asarray(np.stack(patches))),
                             rtol=1e-5, atol=1e-6)
  # The same responses whatever the conv impl (all share the parameter tree).
  flax_layers = figures.layer_responses(params, dict(TINY_MODEL, conv_impl="flax"),
                                        np.stack(patches))
  for (_, got), (_, want) in zip(flax_layers, layers):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)

  path = tmp_path / "responses.png"
  figures.response_maps(path, params, TINY_MODEL, patches, channels=4,
                        input_names=("cf", "knn"))
  png = read_png(path)
  # 4 columns x (2 patches x 4 rows) cells of 1.5 inches at 100 dpi.
  assert png.shape[:2] == (1220, 600)
  with pytest.raises(ValueError, match="input_names"):
    figures.response_maps(tmp_path / "bad.png", params, TINY_MODEL, patches, input_names=("cf",))


def test_most_active_channels():
  response = np.zeros((2, 3, 3, 5), np.float32)
  response[..., 3] = 2.0
  response[0, ..., 1] = 1.0
  np.testing.assert_array_equal(figures.most_active_channels(response, 2), [3, 1])
  assert len(figures.most_active_channels(response[..., :1], 4)) == 1
