"""The weights shipped in matting/weights/: they load, predict well, and serve the CLI default."""

import imageio.v3 as iio
import numpy as np
import pytest

from matting import classic, cli, predict
from matting.data import io, synthetic
from matting.models import weights

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def shipped():
  path = weights.default_weights()
  assert path is not None, f"{weights.DEFAULT_WEIGHTS} is missing from the package"
  return weights.load_params(path)


def test_shipped_weights_are_the_standard_network(shipped):
  _, cfg = shipped
  assert cfg.inputs.combination == "rgb_cf_knn"
  assert cfg.model.num_remap_layers == 4
  provenance = weights.read_provenance(weights.default_weights())
  assert provenance["step"] == cfg.train.steps  # The last step, not one picked on validation.


def test_generalist_weights_are_the_comp_input_network():
  _, cfg = weights.load_params(weights.GENERALIST_WEIGHTS)
  assert cfg.inputs.combination == "rgb_cf_knn_comp" and cfg.model.gated
  assert cfg.train.init_from.endswith("dcnn_rgb_cf_knn.npz")
  provenance = weights.read_provenance(weights.GENERALIST_WEIGHTS)
  assert provenance["step"] == cfg.train.steps


@pytest.mark.parametrize("path", [weights.DEFAULT_WEIGHTS, weights.GENERALIST_WEIGHTS],
                         ids=["shipped", "generalist"])
def test_shipped_model_beats_its_inputs_on_synthetic_images(path):
  """Mean |alpha - GT| on unknown pixels of images the model never saw (synthetic)."""
  model = weights.load_params(path)
  errors = {"dcnn": [], "cf": [], "knn": []}
  for seed in SEEDS:
    example = synthetic.make_example(seed, 200, 260, unknown_width=8)
    unknown = example.trimap == 0.5
    alphas = classic.classic_alphas(("cf", "knn"), example.image, example.trimap)
    alphas["dcnn"] = predict.predict_image(*model, example.image, example.trimap)
    assert alphas["dcnn"].shape == example.alpha.shape
    assert alphas["dcnn"].min() >= 0 and alphas["dcnn"].max() <= 1
    for name, alpha in alphas.items():
      errors[name].append(float(np.abs(alpha - example.alpha)[unknown].mean()))
    assert errors["dcnn"][-1] < 0.15 and errors["dcnn"][-1] < errors["knn"][-1], errors
  assert np.mean(errors["dcnn"]) < min(np.mean(errors["cf"]), np.mean(errors["knn"])), errors


def test_cli_cutout_defaults_to_the_shipped_weights(shipped, tmp_path):
  example = synthetic.make_example(5, 90, 120, unknown_width=6)
  io.write_rgb(tmp_path / "image.png", example.image)
  io.write_alpha(tmp_path / "trimap.png", example.trimap)
  out = tmp_path / "cut.png"
  assert cli.main(["cutout", str(tmp_path / "image.png"), str(tmp_path / "trimap.png"),
                   "-o", str(out)]) == 0
  rgba = iio.imread(out)
  assert rgba.shape == example.trimap.shape + (4,) and rgba.dtype == np.uint8
  image, trimap = io.read_image_and_trimap(tmp_path / "image.png", tmp_path / "trimap.png")
  alpha = predict.predict_image(*shipped, image, trimap)
  np.testing.assert_allclose(rgba[..., 3] / 255, alpha, atol=0.5 / 255 + 1e-6)
  opaque = rgba[..., 3] == 255  # There the foreground colour is the image's own.
  assert opaque.sum() > 100
  np.testing.assert_allclose(rgba[..., :3][opaque] / 255, image[opaque], atol=2 / 255)
