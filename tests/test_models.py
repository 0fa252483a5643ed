"""DCNN: every conv impl equals lax/flax.linen.Conv (values and gradients); inference."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from matting.errors import MattingInputError
from matting.models import architecture, convolutions, dcnn, inference, jax_forward, weights
from matting.models.convolutions import conv2d
from matting.models.dcnn import DCNN

FAST_IMPLS = ("im2col", "shift_add", "auto")


def assert_close(actual, expected, rtol=1e-5):
  """Equal within rtol of the expected array's scale (float32 sums of ~400 terms)."""
  actual, expected = np.asarray(actual), np.asarray(expected)
  assert actual.shape == expected.shape
  np.testing.assert_allclose(actual, expected, rtol=rtol,
                             atol=rtol * max(float(np.abs(expected).max()), 1e-6))


def random_params(model, channels, seed):
  """Initialised params with random (non-zero) biases, so that biases are exercised too."""
  params = model.init(jax.random.key(seed), jnp.zeros((1, 27, 27, channels)))
  keys = iter(jax.random.split(jax.random.key(seed + 1), 16))
  return jax.tree_util.tree_map_with_path(
      lambda path, p: p + 0.1 * jax.random.normal(next(keys), p.shape)
      if path[-1].key == "bias" else p, params)


@pytest.mark.parametrize("impl", ["im2col", "shift_add"])
@pytest.mark.parametrize("kernel_size,cin,cout,height,width", [
    (9, 5, 7, 27, 27), (9, 5, 6, 41, 36), (5, 6, 1, 19, 23), (3, 2, 4, 8, 9), (1, 3, 4, 5, 6)])
def test_conv2d_matches_lax(impl, kernel_size, cin, cout, height, width):
  rng = np.random.default_rng(kernel_size * 100 + cin)
  x = jnp.asarray(rng.standard_normal((2, height, width, cin)), jnp.float32)
  kernel = jnp.asarray(rng.standard_normal((kernel_size, kernel_size, cin, cout))
                       / (kernel_size * np.sqrt(cin)), jnp.float32)
  out_shape = (2, height - kernel_size + 1, width - kernel_size + 1, cout)
  cotangent = jnp.asarray(rng.standard_normal(out_shape), jnp.float32)
  reference = jax.lax.conv_general_dilated(x, kernel, (1, 1), "VALID",
                                           dimension_numbers=("NHWC", "HWIO", "NHWC"))

  @functools.partial(jax.jit, static_argnums=0)
  def grads(impl):
    return jax.grad(lambda x, k: jnp.sum(conv2d(x, k, impl) * cotangent), argnums=(0, 1))(
        x, kernel)

  assert_close(jax.jit(conv2d, static_argnums=2)(x, kernel, impl), reference)
  for got, want in zip(grads(impl), grads("lax")):
    assert_close(got, want)


def test_conv2d_rejects_unknown_impl():
  with pytest.raises(ValueError, match="conv impl"):
    conv2d(jnp.zeros((1, 5, 5, 1)), jnp.zeros((3, 3, 1, 1)), "fft")


def test_patches_and_shift_sum_are_transposes():
  """<patches(x), t> == <x, patches^T(t)> and likewise for shift_sum (custom VJPs)."""
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.standard_normal((2, 9, 8, 3)), jnp.float32)
  taps = jnp.asarray(rng.standard_normal((2, 9, 8, 3, 2, 3)), jnp.float32)
  windows, patches_vjp = jax.vjp(lambda x: convolutions.im2col(x, 3, 2), x)
  summed, shift_sum_vjp = jax.vjp(convolutions.shift_sum, taps)
  t = jnp.asarray(rng.standard_normal(windows.shape), jnp.float32)
  s = jnp.asarray(rng.standard_normal(summed.shape), jnp.float32)
  np.testing.assert_allclose(jnp.vdot(windows, t), jnp.vdot(x, patches_vjp(t)[0]), rtol=1e-5)
  np.testing.assert_allclose(jnp.vdot(summed, s), jnp.vdot(taps, shift_sum_vjp(s)[0]),
                             rtol=1e-5)
  assert windows.shape == (2, 7, 7, 3, 2, 3)
  np.testing.assert_array_equal(windows[1, 4, 5, 2, 1], x[1, 6, 6])


def test_architecture_and_parameters():
  model = DCNN()
  x = jnp.zeros((2, 27, 27, 5))
  params = model.init(jax.random.key(0), x)["params"]
  shapes = jax.tree.map(jnp.shape, params)
  assert shapes["structure"] == {"kernel": (9, 9, 5, 64)}  # Eq. (3): no bias in F1.
  assert [shapes[f"remap_{n}"]["kernel"] for n in range(1, 5)] == [
      (1, 1, 64, 64), (1, 1, 64, 64), (1, 1, 64, 64), (1, 1, 64, 32)]
  assert shapes["reconstruction"] == {"kernel": (5, 5, 32, 1), "bias": (1,)}
  assert model.apply({"params": params}, x).shape == (2, 15, 15, 1)
  assert model.margin == 6
  for impl in convolutions.CONV_IMPLS:
    other = jax.eval_shape(DCNN(conv_impl=impl).init, jax.random.key(0), x)["params"]
    assert jax.tree.map(jnp.shape, other) == shapes


@pytest.mark.parametrize("kernel_init,bound", [
    ("glorot_uniform", lambda fan_in, fan_out: np.sqrt(6 / (fan_in + fan_out))),
    ("caffe_xavier", lambda fan_in, fan_out: np.sqrt(3 / fan_in))])
def test_init_is_xavier_with_zero_biases(kernel_init, bound):
  params = DCNN(kernel_init=kernel_init).init(jax.random.key(0), jnp.zeros((1, 27, 27, 5)))
  params = params["params"]
  kernel = np.asarray(params["structure"]["kernel"])
  limit = bound(9 * 9 * 5, 9 * 9 * 64)
  assert np.abs(kernel).max() <= limit
  assert abs(kernel.std() - limit / np.sqrt(3)) < 0.05 * limit  # Uniform(-a, a): std a/sqrt(3).
  for name in ("remap_1", "remap_4", "reconstruction"):
    np.testing.assert_array_equal(params[name]["bias"], 0.0)


@pytest.mark.parametrize("fields, field, text", [
    (dict(num_remap_layers=2, remap_widths=(64, 64, 64)), "model.remap_widths", "3 entries"),
    (dict(conv_impl="winograd"), "model.conv_impl", "winograd"),
    (dict(kernel_init="he"), "model.kernel_init", "'he'"),
    (dict(first_kernel=8), "model.first_kernel", "odd")])
def test_invalid_configs_raise_naming_the_field(fields, field, text):
  with pytest.raises(MattingInputError, match=text) as error:
    DCNN(**fields)
  assert error.value.field == field


@pytest.mark.parametrize("impl", FAST_IMPLS + ("lax",))
@pytest.mark.parametrize("shape", [(3, 27, 27, 5), (1, 44, 39, 4)])
def test_dcnn_matches_flax_conv(impl, shape):
  """Same params, same outputs and parameter gradients as the flax.linen.Conv network."""
  reference = DCNN(conv_impl="flax")
  params = random_params(reference, shape[-1], seed=shape[1])
  x = jnp.asarray(np.random.default_rng(shape[1]).random(shape), jnp.float32)
  model = DCNN(conv_impl=impl)

  @functools.partial(jax.jit, static_argnames=("model", "train"))
  def output_and_grads(params, model, train):
    def loss(params):
      out = model.apply(params, x, train=train)
      return jnp.sum(jnp.sin(3.0 * out)), out
    grads, out = jax.grad(loss, has_aux=True)(params)
    return out, grads

  expected = output_and_grads(params, reference, False)
  for train in ((False, True) if impl == "auto" else (False,)):  # `train` only affects auto.
    jax.tree.map(assert_close, output_and_grads(params, model, train), expected)


def test_ablation_depths_run():
  for depth in (1, 8):
    model = DCNN(num_remap_layers=depth, remap_widths=(64,) * depth)
    x = jnp.ones((1, 27, 27, 3))
    params = model.init(jax.random.key(0), x)["params"]
    assert len(params) == depth + 2
    assert model.apply({"params": params}, x).shape == (1, 15, 15, 1)


def test_auto_conv_impl():
  auto = convolutions.auto_conv_impl
  assert auto(9, 5, 64, train=True, backend="gpu") == "lax"
  assert auto(1, 64, 64, train=False, backend="cpu") == "im2col"
  assert auto(5, 32, 1, train=True, backend="cpu") == "shift_add"
  assert auto(9, 5, 64, train=True, backend="cpu") == "im2col"
  assert auto(9, 5, 64, train=False, backend="cpu") == "lax"


def test_make_model_from_config():
  cfg = dcnn.default_model_config()
  assert dcnn.make_model(cfg) == DCNN()
  cfg.remap_widths = [64, 64, 64, 32]  # As read back from JSON.
  assert dcnn.make_model(cfg) == DCNN()


def inference_setup(height, width, channels=5, seed=0):
  cfg = dcnn.default_model_config()
  model = dcnn.make_model(cfg)
  params = random_params(model, channels, seed)
  inputs = np.random.default_rng(seed).random((height, width, channels), dtype=np.float32)
  # Rescale the reconstruction so raw predictions have mean 0.5 and std 0.5: some fall
  # outside [0, 1] (clipping is exercised) and most inside (comparisons are informative).
  raw = model.apply(params, jnp.asarray(inputs)[None])
  last = params["params"]["reconstruction"]
  scale = 0.5 / jnp.std(raw)
  last["kernel"] = scale * last["kernel"]
  last["bias"] = scale * (last["bias"] - jnp.mean(raw)) + 0.5
  return cfg, model, params, inputs


def test_run_network_is_padded_forward_pass_clipped():
  cfg, model, params, inputs = inference_setup(30, 41)
  alpha = inference.run_network(params, cfg, inputs, tile_pixels=10**6)
  padded = np.pad(inputs, ((6, 6), (6, 6), (0, 0)))
  raw = np.asarray(DCNN(conv_impl="flax").apply(params, padded[None]))[0, :, :, 0]
  assert alpha.shape == (30, 41) and alpha.dtype == np.float32
  assert raw.min() < 0 or raw.max() > 1  # The random network does need clipping.
  assert_close(alpha, np.clip(raw, 0.0, 1.0))


@pytest.mark.parametrize("tile_pixels", [64, 150, 37 * 29 - 1])
def test_tiled_prediction_equals_untiled(tile_pixels):
  cfg, _, params, inputs = inference_setup(37, 29, seed=1)
  whole = inference.run_network(params, cfg, inputs, tile_pixels=37 * 29)
  tiled = inference.run_network(params, cfg, inputs, tile_pixels=tile_pixels)
  assert 0.3 < np.mean((whole > 0) & (whole < 1))
  assert_close(tiled, whole)


def test_tiling_covers_image_within_budget():
  for height, width, budget in [(800, 640, 128 * 128), (37, 29, 64), (5, 300, 100)]:
    tile_h, tile_w, rows, cols = jax_forward.tiling(height, width, budget)
    assert tile_h * tile_w <= budget and (rows * cols == 1 or tile_h == tile_w)
    assert rows * tile_h >= height and (rows - 1) * tile_h < height
    assert cols * tile_w >= width and (cols - 1) * tile_w < width
  assert jax_forward.tiling(20, 30, 600) == (20, 30, 1, 1)


def test_accelerator_tiles_are_bounded_by_the_device_memory(monkeypatch):
  """Off CPU, one pass takes at most DEVICE_FRACTION of the device's memory at the measured
  bytes per pixel: a 16 GB card gets tiles below 4096^2, a wider model smaller ones."""
  from matting.models import jax_forward
  limits = {}
  monkeypatch.setattr(jax_forward, "device_memory_bytes", lambda device=None: limits["bytes"])
  model = dcnn.make_model(dcnn.default_model_config())
  tiles = {}
  for gb in (141, 16, 4):
    limits["bytes"] = gb * 2 ** 30
    tiles[gb] = jax_forward.default_tile_pixels("gpu", model, channels=6)
  assert tiles[141] == jax_forward.MAX_TILE_PIXELS
  assert jax_forward.MIN_TILE_PIXELS < tiles[4] < tiles[16] < jax_forward.MAX_TILE_PIXELS
  per_pixel = jax_forward.DEVICE_BYTES_PER_PIXEL + jax_forward.TILES_PER_CALL * 4 * 7
  assert tiles[16] * per_pixel <= jax_forward.DEVICE_FRACTION * 16 * 2 ** 30
  wide = dcnn.make_model({**dcnn.default_model_config(), "first_width": 128})
  assert jax_forward.default_tile_pixels("gpu", wide, channels=6) < tiles[4]
  limits["bytes"] = None  # A backend that keeps no count.
  assert jax_forward.default_tile_pixels("gpu", model) == jax_forward.MAX_TILE_PIXELS
  assert jax_forward.default_tile_pixels("cpu", model) == 128 * 128


def test_keep_known_uses_trimap_values():
  cfg, _, params, inputs = inference_setup(25, 20, seed=2)
  trimap = np.full((25, 20), 0.5, np.float32)
  trimap[:5] = 1.0
  trimap[-5:] = 0.0
  free = inference.run_network(params, cfg, inputs)
  kept = inference.run_network(params, cfg, inputs, keep_known=trimap)
  np.testing.assert_array_equal(kept[:5], 1.0)
  np.testing.assert_array_equal(kept[-5:], 0.0)
  np.testing.assert_array_equal(kept[5:-5], free[5:-5])
  with pytest.raises(ValueError, match="keep_known"):
    inference.run_network(params, cfg, inputs, keep_known=trimap[1:])


def test_tiles_without_unknown_pixels_are_skipped(monkeypatch):
  cfg, _, params, inputs = inference_setup(40, 50, seed=3)
  trimap = np.zeros((40, 50), np.float32)
  trimap[:, 25:] = 1.0
  trimap[3:9, 20:31] = 0.5  # Unknown pixels in 2 of the 4 x 5 tiles of 10 x 10.
  calls = []
  forward = jax_forward._forward_tiles
  monkeypatch.setattr(jax_forward, "_forward_tiles",
                      lambda p, windows, model: calls.append(1) or forward(p, windows, model))
  kept = inference.run_network(params, cfg, inputs, keep_known=trimap, tile_pixels=100)
  assert len(calls) == 1  # One group of (at most 8) tiles, not three.
  free = inference.run_network(params, cfg, inputs, tile_pixels=100)
  unknown = trimap == 0.5
  np.testing.assert_array_equal(kept[unknown], free[unknown])
  np.testing.assert_array_equal(kept[~unknown], trimap[~unknown])


@pytest.mark.parametrize("shape,kept", [((37, 29), False), ((70, 150), True)])
def test_numpy_engine_equals_the_jax_network(shape, kept):
  """The NumPy forward pass (several bands; only unknown pixels with keep_known) gives the
  JAX network's alpha within float32 rounding."""
  cfg, _, params, inputs = inference_setup(*shape, seed=4)
  trimap = None
  if kept:
    trimap = np.zeros(shape, np.float32)
    trimap[:, 75:] = 1.0
    trimap[10:60, 60:90] = 0.5
    trimap[66:, :] = 0.5  # The last rows: a band shorter than numpy_forward.BAND_ROWS.
  numpy_alpha = inference.run_network(params, cfg, inputs, keep_known=trimap, engine="numpy")
  jax_alpha = inference.run_network(params, cfg, inputs, keep_known=trimap, tile_pixels=100)
  assert 0.3 < np.mean((jax_alpha > 0) & (jax_alpha < 1)) or kept
  assert_close(numpy_alpha, jax_alpha)
  with pytest.raises(ValueError, match="engine"):
    inference.run_network(params, cfg, inputs, engine="torch")


def test_numpy_engine_runs_other_architectures():
  cfg = dict(dcnn.default_model_config(), num_remap_layers=1, remap_widths=(8,),
             first_width=6, first_kernel=5, last_kernel=3)
  model = DCNN(**cfg)
  inputs = np.random.default_rng(5).random((21, 18, 4)).astype(np.float32)
  params = model.init(jax.random.key(1), jnp.zeros((1, 7, 7, 4)))
  assert_close(inference.run_network(params, cfg, inputs, engine="numpy"),
               inference.run_network(params, cfg, inputs))


def test_the_symmetries_are_the_squares_and_undo():
  array = np.arange(4 * 5 * 2).reshape(4, 5, 2)
  seen = {inference.symmetry(array, k).tobytes() for k in range(8)}
  assert len(seen) == 8  # Eight different arrangements: the square's whole group.
  for k in range(8):
    assert np.array_equal(inference.inverse_symmetry(inference.symmetry(array, k), k), array)
  assert np.array_equal(inference.symmetry(array, 1), array[:, ::-1])
  assert np.array_equal(inference.symmetry(array, 4), array.swapaxes(0, 1))


@pytest.mark.parametrize("engine", ["numpy", "jax"])
def test_symmetries_average_the_mapped_back_outputs(engine):
  """symmetries=n is the mean of the n mirrored / transposed forward passes, each mapped back;
  with all eight the prediction commutes with mirroring the input (and not with one)."""
  cfg, _, params, inputs = inference_setup(23, 31, seed=6)
  last = params["params"]["reconstruction"]  # Outputs 0.5 +- ~0.1: no pixel is clipped.
  last["kernel"], last["bias"] = 0.2 * last["kernel"], 0.2 * (last["bias"] - 0.5) + 0.5
  trimap = np.zeros((23, 31), np.float32)
  trimap[4:20, 3:25] = 0.5

  def run(x, keep=None, n=1):
    return inference.run_network(params, cfg, x, keep_known=keep, engine=engine, symmetries=n)
  for n in (2, 4):
    passes = [inference.inverse_symmetry(run(np.ascontiguousarray(inference.symmetry(inputs, k))),
                                         k) for k in range(n)]
    assert np.all([(p > 0) & (p < 1) for p in passes])
    assert_close(run(inputs, n=n), np.mean(passes, axis=0))
  mirrored = np.ascontiguousarray(inputs[:, ::-1])
  assert_close(run(mirrored, n=8), run(inputs, n=8)[:, ::-1])
  assert np.abs(run(mirrored) - run(inputs)[:, ::-1]).max() > 1e-2
  kept = run(inputs, trimap, n=8)
  unknown = trimap == 0.5
  assert_close(kept[unknown], run(inputs, n=8)[unknown])
  np.testing.assert_array_equal(kept[~unknown], 0.0)
  for bad in (3, 2.0, True):
    with pytest.raises(ValueError, match="symmetries"):
      run(inputs, n=bad)


@pytest.mark.parametrize("fields", [{}, dict(num_remap_layers=2, remap_widths=(16, 8),
                                             first_width=12, first_kernel=7, last_kernel=3)])
def test_param_shapes_are_the_flax_models(fields):
  """architecture.param_shapes (the JAX-free weights check) equals the traced Flax tree."""
  cfg = dict(dcnn.default_model_config(), **fields)
  model = DCNN(**cfg)
  size = model.first_kernel + model.last_kernel - 1
  tree = jax.eval_shape(model.init, jax.random.key(0),
                        jax.ShapeDtypeStruct((1, size, size, 5), jnp.float32))
  traced = {k: tuple(v.shape) for k, v in weights.flatten_params(tree, keep=True).items()}
  assert traced == architecture.param_shapes(cfg, 5)
  assert all(v.dtype == jnp.float32 for v in weights.flatten_params(tree, keep=True).values())
  with pytest.raises(TypeError):
    architecture.param_shapes(dict(cfg, depth=3), 5)


def test_run_network_rejects_batched_inputs():
  cfg, _, params, inputs = inference_setup(20, 20)
  with pytest.raises(ValueError, match=r"\(H, W, C\)"):
    inference.run_network(params, cfg, inputs[None])



def gated_setup(height, width, channels=6, seed=6):
  """(cfg, params, inputs) of a gated network with random gate logits of spread ~2."""
  cfg = dict(dcnn.default_model_config(), gated=True)
  params = random_params(DCNN(**cfg), channels, seed)
  gate = params["params"][architecture.GATE]
  gate["kernel"] = 20.0 * gate["kernel"]
  inputs = np.random.default_rng(seed).random((height, width, channels), dtype=np.float32)
  return cfg, params, inputs


def test_gated_output_mixes_the_alpha_and_the_input_mattes():
  """A gated net's output is, at each pixel, the gate's softmax weights times (the
  reconstruction's alpha, then each channel after RGB at that pixel), for every conv impl."""
  cfg, params, inputs = gated_setup(30, 26)
  model = DCNN(**cfg)
  out, state = model.apply(params, inputs[None], capture_intermediates=True,
                           mutable=["intermediates"])
  captured = state["intermediates"]
  alpha = captured["reconstruction"]["__call__"][0]
  logits = captured[architecture.GATE]["__call__"][0]
  candidates = np.concatenate([alpha, inputs[None, 6:-6, 6:-6, 3:]], axis=-1)
  weights_ = np.asarray(jax.nn.softmax(logits, axis=-1))
  assert weights_.max(axis=-1).mean() > 0.5  # The random gate does prefer candidates.
  assert_close(out, np.sum(weights_ * candidates, axis=-1, keepdims=True))
  low, high = candidates.min(axis=-1), candidates.max(axis=-1)
  assert np.all((out[..., 0] >= low - 1e-5) & (out[..., 0] <= high + 1e-5))
  for impl in ("flax", "lax", "im2col", "shift_add"):
    assert_close(DCNN(**dict(cfg, conv_impl=impl)).apply(params, inputs[None]), out)


def test_gated_numpy_engine_equals_the_jax_network():
  cfg, params, inputs = gated_setup(70, 40)
  trimap = np.zeros((70, 40), np.float32)
  trimap[10:60, 5:30] = 0.5
  for keep in (None, trimap):
    assert_close(inference.run_network(params, cfg, inputs, keep_known=keep, engine="numpy"),
                 inference.run_network(params, cfg, inputs, keep_known=keep, tile_pixels=200))


def test_gated_shapes_and_errors():
  cfg = dict(dcnn.default_model_config(), gated=True)
  shapes = architecture.param_shapes(cfg, 6)
  tree = jax.eval_shape(DCNN(**cfg).init, jax.random.key(0),
                        jax.ShapeDtypeStruct((1, 13, 13, 6), jnp.float32))
  assert {k: tuple(v.shape) for k, v in weights.flatten_params(tree, keep=True).items()} == shapes
  assert shapes["params/gate/kernel"] == (5, 5, 32, 4) and shapes["params/gate/bias"] == (4,)
  with pytest.raises(MattingInputError, match="mattes after RGB") as error:
    architecture.param_shapes(cfg, 3)
  assert error.value.field == "model.gated"
  with pytest.raises(MattingInputError, match="mattes after RGB"):  # The same check at init.
    DCNN(**cfg).init(jax.random.key(0), jnp.zeros((1, 13, 13, 3)))
  with pytest.raises(MattingInputError, match="True or False"):
    DCNN(**dict(cfg, gated="yes"))
