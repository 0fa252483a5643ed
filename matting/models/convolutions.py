"""Equivalent formulations of the DCNN's VALID convolutions, fast on XLA:CPU.

XLA:CPU runs this net's convolutions slowly (flax.linen.Conv: a few seconds per 800x640
forward pass), so each convolution can be computed in one of several equivalent ways that
share one parameter tree (checkpoints are portable between them):

  'lax'        lax.conv_general_dilated (what flax.linen.Conv calls);
  'im2col'     every kh x kw window stacked along channels, then one matmul;
  'shift_add'  one matmul to kh*kw*cout tap responses, then a sum of shifted slices;
  'flax'       flax.linen.Conv itself (the reference the others are tested against).

A 1x1 convolution is a plain matmul in 'im2col' and 'shift_add'. 'im2col' materialises
kh*kw*cin numbers per pixel and 'shift_add' kh*kw*cout, so the first suits F1 (cin=5) and
the second F6 (cout=1). Their gradients are written by hand (`im2col` and `shift_sum` are
each other's transpose), which on CPU is ~15x faster than autodiff's pad-and-add. 'auto'
picks per layer: 'lax' off CPU; on CPU a matmul for 1x1, 'shift_add' when cout < cin and
otherwise 'lax' for inference, 'im2col' for training (lax's kernel gradient is slow on CPU).
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from matting.models.architecture import CONV_IMPLS  # noqa: F401 (the names, jax-free)

KERNEL_INITS = {
    # Glorot/Xavier uniform: U(+-sqrt(6 / (fan_in + fan_out))).
    "glorot_uniform": nn.initializers.xavier_uniform(),
    # Caffe's "xavier" filler with its default variance_norm=FAN_IN: U(+-sqrt(3 / fan_in)).
    "caffe_xavier": nn.initializers.variance_scaling(1.0, "fan_in", "uniform"),
}



def _pad_spatial(x, pad_h, pad_w):
  return jnp.pad(x, [(0, 0), (pad_h, pad_h), (pad_w, pad_w)] + [(0, 0)] * (x.ndim - 3))


def _flip_taps(windows):
  return windows[:, :, :, ::-1, ::-1]


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def im2col(x, kh, kw):
  """im2col: (B, H, W, C) -> (B, H-kh+1, W-kw+1, kh, kw, C) with [.., i, j, :] = x[y+i, x+j]."""
  height, width = x.shape[1] - kh + 1, x.shape[2] - kw + 1
  # Two stages (kh + kw slices, not kh * kw): compiles faster, runs as fast.
  rows = jnp.concatenate([x[:, :, j:j + width] for j in range(kw)], axis=-1)
  windows = jnp.concatenate([rows[:, i:i + height] for i in range(kh)], axis=-1)
  return windows.reshape(x.shape[0], height, width, kh, kw, x.shape[3])


def _im2col_fwd(x, kh, kw):
  return im2col(x, kh, kw), None


def _im2col_bwd(kh, kw, _, g):
  # The transpose of taking windows is summing them back: a shift_sum of the padded,
  # tap-flipped cotangent.
  return (shift_sum(_flip_taps(_pad_spatial(g, kh - 1, kw - 1))),)


im2col.defvjp(_im2col_fwd, _im2col_bwd)


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
  return (_flip_taps(im2col(_pad_spatial(g, kh - 1, kw - 1), kh, kw)),)


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
    windows = im2col(x, kh, kw)
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
