"""The DCNN matting network (paper §3.1, Fig. 4) and its full-image inference (§4.1).

F1: a 9x9 convolution with no bias (Eq. 3 sets b1 = 0) and ReLU analyses local structure;
F2..F5: 1x1 convolutions with bias and ReLU remap the responses; F6: a 5x5 convolution
reconstructs alpha (Eq. 4). All convolutions are VALID, so a 27x27 training patch gives the
central 15x15 alpha and a whole image, zero-padded by 6 pixels, gives a full-size matte.

XLA:CPU runs this net's convolutions slowly (flax.linen.Conv: a few seconds per 800x640
forward pass), so each convolution can be computed in one of several equivalent ways that
share one parameter tree (checkpoints are portable between them):

  'lax'        lax.conv_general_dilated (what flax.linen.Conv calls);
  'im2col'     every kh x kw window stacked along channels, then one matmul;
  'shift_add'  one matmul to kh*kw*cout tap responses, then a sum of shifted slices;
  'flax'       flax.linen.Conv itself (the reference the others are tested against).

A 1x1 convolution is a plain matmul in 'im2col' and 'shift_add'. 'im2col' materialises
kh*kw*cin numbers per pixel and 'shift_add' kh*kw*cout, so the first suits F1 (cin=5) and
the second F6 (cout=1). Their gradients are written by hand (`patches` and `shift_sum` are
each other's transpose), which on CPU is ~15x faster than autodiff's pad-and-add. 'auto'
picks per layer: 'lax' off CPU; on CPU a matmul for 1x1, 'shift_add' when cout < cin and
otherwise 'lax' for inference, 'im2col' for training (lax's kernel gradient is slow on CPU).
"""

import functools
import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from matting.errors import MattingInputError
from matting.trimap import trimap_masks

CONV_IMPLS = ("auto", "lax", "im2col", "shift_add", "flax")
KERNEL_INITS = {
    # Glorot/Xavier uniform: U(+-sqrt(6 / (fan_in + fan_out))).
    "glorot_uniform": nn.initializers.xavier_uniform(),
    # Caffe's "xavier" filler with its default variance_norm=FAN_IN: U(+-sqrt(3 / fan_in)).
    "caffe_xavier": nn.initializers.variance_scaling(1.0, "fan_in", "uniform"),
}


def default_model_config():
  """The paper's network (Fig. 4); `DCNN(**cfg)` builds it."""
  return ml_collections.ConfigDict({
      "num_remap_layers": 4,
      "remap_widths": (64, 64, 64, 32),
      "first_width": 64,
      "first_kernel": 9,
      "last_kernel": 5,
      "conv_impl": "auto",
      "kernel_init": "glorot_uniform",
  })


def make_model(model_config):
  """DCNN from a model config (a ConfigDict or a dict of DCNN fields)."""
  fields = dict(model_config)
  fields["remap_widths"] = tuple(fields["remap_widths"])
  return DCNN(**fields)


def _pad_spatial(x, pad_h, pad_w):
  return jnp.pad(x, [(0, 0), (pad_h, pad_h), (pad_w, pad_w)] + [(0, 0)] * (x.ndim - 3))


def _flip_taps(windows):
  return windows[:, :, :, ::-1, ::-1]


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def patches(x, kh, kw):
  """im2col: (B, H, W, C) -> (B, H-kh+1, W-kw+1, kh, kw, C) with [.., i, j, :] = x[y+i, x+j]."""
  height, width = x.shape[1] - kh + 1, x.shape[2] - kw + 1
  # Two stages (kh + kw slices, not kh * kw): compiles faster, runs as fast.
  rows = jnp.concatenate([x[:, :, j:j + width] for j in range(kw)], axis=-1)
  windows = jnp.concatenate([rows[:, i:i + height] for i in range(kh)], axis=-1)
  return windows.reshape(x.shape[0], height, width, kh, kw, x.shape[3])


def _patches_fwd(x, kh, kw):
  return patches(x, kh, kw), None


def _patches_bwd(kh, kw, _, g):
  # The transpose of taking windows is summing them back: a shift_sum of the padded,
  # tap-flipped cotangent.
  return (shift_sum(_flip_taps(_pad_spatial(g, kh - 1, kw - 1))),)


patches.defvjp(_patches_fwd, _patches_bwd)


def shift_sum(taps):
  """(B, H, W, kh, kw, C) -> (B, H-kh+1, W-kw+1, C): out[y, x] = sum_ij taps[y+i, x+j, i, j]."""
  return _shift_sum(taps, *taps.shape[3:5])


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def _shift_sum(taps, kh, kw):
  height, width = taps.shape[1] - kh + 1, taps.shape[2] - kw + 1
  rows = sum(taps[:, :, j:j + width, :, j] for j in range(kw))  # (B, H, width, kh, C)
  return sum(rows[:, i:i + height, :, i] for i in range(kh))


def _shift_sum_fwd(taps, kh, kw):
  return _shift_sum(taps, kh, kw), None


def _shift_sum_bwd(kh, kw, _, g):
  # The transpose of summing shifted taps is taking windows of the padded cotangent.
  return (_flip_taps(patches(_pad_spatial(g, kh - 1, kw - 1), kh, kw)),)


_shift_sum.defvjp(_shift_sum_fwd, _shift_sum_bwd)


def conv2d(x, kernel, impl):
  """VALID stride-1 convolution of NHWC `x` with an HWIO `kernel`, computed by `impl`."""
  kh, kw, cin, cout = kernel.shape
  if impl == "lax":
    return jax.lax.conv_general_dilated(x, kernel, (1, 1), "VALID",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))
  if impl not in ("im2col", "shift_add"):
    raise ValueError(f"conv impl must be 'lax', 'im2col' or 'shift_add', got {impl!r}")
  if kh == kw == 1:
    return jnp.dot(x, kernel[0, 0])
  if impl == "im2col":
    windows = patches(x, kh, kw)
    return jnp.dot(windows.reshape(windows.shape[:3] + (-1,)), kernel.reshape(-1, cout))
  taps = jnp.dot(x, jnp.moveaxis(kernel, 2, 0).reshape(cin, -1))
  return shift_sum(taps.reshape(taps.shape[:3] + (kh, kw, cout)))


def auto_conv_impl(kernel_size, in_features, features, train, backend=None):
  """The fastest measured impl for one layer (see the module docstring and benchmarks/model.py)."""
  if (backend or jax.default_backend()) != "cpu":
    return "lax"
  if kernel_size == 1:
    return "im2col"
  if features < in_features:
    return "shift_add"
  return "im2col" if train else "lax"


class Conv(nn.Module):
  """A VALID convolution with flax.linen.Conv's parameters ('kernel' HWIO, 'bias')."""
  features: int
  kernel_size: int
  use_bias: bool
  conv_impl: str
  kernel_init: str

  @nn.compact
  def __call__(self, x):
    shape = (self.kernel_size, self.kernel_size, x.shape[-1], self.features)
    y = conv2d(x, self.param("kernel", KERNEL_INITS[self.kernel_init], shape), self.conv_impl)
    if self.use_bias:
      y = y + self.param("bias", nn.initializers.zeros_init(), (self.features,))
    return y


class DCNN(nn.Module):
  """The deep CNN of Fig. 4: (B, H, W, C) inputs -> (B, H-2m, W-2m, 1) alpha, m = `margin`.

  C comes from the data (5 for normalised RGB + closed-form + KNN alphas). `train` only
  chooses the faster formulation under conv_impl='auto'; the function is the same.
  """
  num_remap_layers: int = 4
  remap_widths: Sequence[int] = (64, 64, 64, 32)
  first_width: int = 64
  first_kernel: int = 9
  last_kernel: int = 5
  conv_impl: str = "auto"
  kernel_init: str = "glorot_uniform"

  def __post_init__(self):
    if len(self.remap_widths) != self.num_remap_layers:
      raise MattingInputError(f"--config.model.remap_widths has {len(self.remap_widths)} "
                              f"entries but model.num_remap_layers is {self.num_remap_layers}")
    if self.conv_impl not in CONV_IMPLS:
      raise MattingInputError(f"--config.model.conv_impl must be one of {CONV_IMPLS}, "
                              f"got {self.conv_impl!r}")
    if self.kernel_init not in KERNEL_INITS:
      raise MattingInputError(f"--config.model.kernel_init must be one of "
                              f"{tuple(KERNEL_INITS)}, got {self.kernel_init!r}")
    if self.first_kernel % 2 == 0 or self.last_kernel % 2 == 0:
      raise MattingInputError("--config.model.first_kernel and model.last_kernel must be odd")
    super().__post_init__()

  @property
  def margin(self):
    """Pixels lost per side by the VALID convolutions: (27 - 15) / 2 = 6 for the paper's net."""
    return (self.first_kernel - 1) // 2 + (self.last_kernel - 1) // 2

  def _conv(self, name, in_features, features, kernel_size, use_bias, train):
    if self.conv_impl == "flax":
      return nn.Conv(features, (kernel_size, kernel_size), padding="VALID", use_bias=use_bias,
                     kernel_init=KERNEL_INITS[self.kernel_init], name=name)
    impl = self.conv_impl
    if impl == "auto":
      impl = auto_conv_impl(kernel_size, in_features, features, train)
    return Conv(features, kernel_size, use_bias, impl, self.kernel_init, name=name)

  @nn.compact
  def __call__(self, inputs, train=False):
    if inputs.ndim != 4:
      raise ValueError(f"DCNN expects (B, H, W, C) inputs, got shape {inputs.shape}")
    widths = (inputs.shape[-1], self.first_width) + tuple(self.remap_widths)
    x = nn.relu(self._conv("structure", widths[0], widths[1], self.first_kernel, False,
                           train)(inputs))
    for n in range(1, self.num_remap_layers + 1):
      x = nn.relu(self._conv(f"remap_{n}", widths[n], widths[n + 1], 1, True, train)(x))
    return self._conv("reconstruction", widths[-1], 1, self.last_kernel, True, train)(x)


def default_tile_pixels(backend=None):
  """Output pixels per forward pass: small tiles keep CPU activations in cache (2x faster)."""
  return 128 * 128 if (backend or jax.default_backend()) == "cpu" else 4096 * 4096


TILES_PER_CALL = 8


def _tiling(height, width, tile_pixels):
  """(tile_h, tile_w, rows, cols) covering (height, width) with square tiles of <= tile_pixels.

  The tile side depends on the budget only, not on the image, so every image size reuses
  one compiled tile function.
  """
  if height * width <= tile_pixels:
    return height, width, 1, 1
  side = max(1, math.isqrt(tile_pixels))
  return side, side, -(-height // side), -(-width // side)


@functools.partial(jax.jit, static_argnames=("model",))
def _forward_whole(params, padded, model):
  """Alpha (H, W) of an input stack already zero-padded by `model.margin` on each side."""
  return model.apply(params, padded[None])[0, :, :, 0]


@functools.partial(jax.jit, static_argnames=("model",))
def _forward_tiles(params, windows, model):
  """Alphas (T, h, w) of T haloed windows, one at a time so activations stay in cache."""
  return jax.lax.map(lambda window: model.apply(params, window[None])[0, :, :, 0], windows)


def _forward_tiled(params, padded, model, tiling):
  """Cuts haloed tiles on the host, runs them TILES_PER_CALL at a time, stitches the alpha."""
  margin = model.margin
  tile_h, tile_w, rows, cols = tiling
  height, width = padded.shape[0] - 2 * margin, padded.shape[1] - 2 * margin
  padded = np.pad(padded, ((0, rows * tile_h - height), (0, cols * tile_w - width), (0, 0)))
  windows = np.stack([padded[r * tile_h:(r + 1) * tile_h + 2 * margin,
                             c * tile_w:(c + 1) * tile_w + 2 * margin]
                      for r in range(rows) for c in range(cols)])
  count = len(windows)
  windows = np.concatenate([windows, np.zeros((-count % TILES_PER_CALL,) + windows.shape[1:],
                                              windows.dtype)])
  tiles = np.concatenate([np.asarray(_forward_tiles(params, windows[i:i + TILES_PER_CALL], model))
                          for i in range(0, len(windows), TILES_PER_CALL)])[:count]
  alpha = tiles.reshape(rows, cols, tile_h, tile_w).transpose(0, 2, 1, 3)
  return alpha.reshape(rows * tile_h, cols * tile_w)[:height, :width]


def predict_alpha(params, model_config, inputs, keep_known=None, tile_pixels=None):
  """Full-resolution alpha (H, W) float32 in [0, 1] from an (H, W, C) input stack (§4.1).

  The input is zero-padded by `margin` pixels (6 = (27 - 15) / 2 for the paper's net) and
  run through the network in one pass, or in tiles of at most `tile_pixels` output pixels
  (each with its halo, so tiling does not change the result) to bound memory; None uses
  `default_tile_pixels()`. One compilation per (input shape, model config, tiling).

  Args:
    params: the model variables, {'params': ...}, as from `DCNN.init` or `TrainState.params`.
    model_config: DCNN fields, e.g. `default_model_config()`.
    inputs: (H, W, C) input stack.
    keep_known: None, or an (H, W) trimap whose known pixels keep their trimap value.
    tile_pixels: output pixels per forward pass.
  """
  model = make_model(model_config)
  inputs = np.asarray(inputs, dtype=np.float32)
  if inputs.ndim != 3:
    raise ValueError(f"inputs must be (H, W, C), got shape {inputs.shape}")
  height, width = inputs.shape[:2]
  margin = model.margin
  padded = np.pad(inputs, ((margin, margin), (margin, margin), (0, 0)))
  tiling = _tiling(height, width, tile_pixels or default_tile_pixels())
  if tiling[2] * tiling[3] == 1:
    alpha = np.asarray(_forward_whole(params, padded, model))
  else:
    alpha = _forward_tiled(params, padded, model, tiling)
  alpha = np.clip(alpha, 0.0, 1.0)
  if keep_known is not None:
    if np.shape(keep_known) != (height, width):
      raise ValueError(f"keep_known trimap shape {np.shape(keep_known)} != inputs' "
                       f"{(height, width)}")
    fg, bg, _ = trimap_masks(keep_known)
    alpha = np.where(fg, 1.0, np.where(bg, 0.0, alpha)).astype(np.float32)
  return alpha
