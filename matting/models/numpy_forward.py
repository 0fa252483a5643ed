"""The DCNN's forward pass in NumPy: prediction on CPU without importing JAX.

`matting predict` runs a few images per process, and there importing JAX and Flax and
compiling the network cost more than the forward pass itself (BUILD_NOTES.md, issue 11).
This computes the function of models/dcnn.py from the same parameter tree with float32
matmuls, and only where the output is wanted (the unknown pixels): F1 by gathering each
needed pixel's k x k window, F2..F5 as matmuls, F6 as a sum of shifted tap responses, in
bands of rows so memory stays bounded at any image size. Tests hold it to the Flax network
within float32 rounding. Padding and known pixels: models/inference.py.
"""

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import ndimage
from threadpoolctl import threadpool_limits

from matting.models import architecture

BAND_ROWS = 64  # Output rows per band: bounds the band's tap array (~BAND_ROWS * W * 100 B).
CHUNK_PIXELS = 16384  # Pixels per matmul chunk: bounds the gathered windows (1.6 KB each).


def _layers(params):
  """[(kernel, bias)] of F1 (bias None), F2.., F6 as float32 arrays; a gated net's F6 is its
  reconstruction and gate kernels side by side (output channel 0 the alpha, then the logits)."""
  tree = params["params"]
  remaps = sorted((name for name in tree if name.startswith("remap_")),
                  key=lambda name: int(name.split("_")[1]))
  last = [name for name in ("reconstruction", architecture.GATE) if name in tree]
  arrays = [(np.asarray(tree[name]["kernel"], np.float32),
             None if "bias" not in tree[name] else np.asarray(tree[name]["bias"], np.float32))
            for name in ["structure"] + remaps + last]
  if len(last) == 2:
    (k_alpha, b_alpha), (k_gate, b_gate) = arrays[-2:]
    arrays[-2:] = [(np.concatenate([k_alpha, k_gate], axis=-1),
                    np.concatenate([b_alpha, b_gate]))]
  return arrays


def _features(layers, flat_input, starts, offsets):
  """F5 responses (n, C5) of the pixels whose F1 windows start at flat indices `starts` of
  the (pixels, C) input; `offsets` are the window's flat offsets in (kh, kw) order."""
  (k1, _), *remaps, _ = layers
  windows = np.take(flat_input, (starts[:, None] + offsets[None, :]).ravel(), axis=0)
  y = windows.reshape(len(starts), -1) @ k1.reshape(-1, k1.shape[-1])  # (kh, kw, C) order.
  np.maximum(y, 0.0, out=y)
  for kernel, bias in remaps:
    y = y @ kernel[0, 0]
    y += bias
    np.maximum(y, 0.0, out=y)
  return y


def forward_wanted(params, padded, wanted=None):
  """Raw output (H, W) float32 of the VALID network on `padded` (H + 2m, W + 2m, C), m the
  margin, at the `wanted` (H, W) pixels (None: all); 0 elsewhere."""
  layers = _layers(params)
  k1, k6, bias6 = layers[0][0], layers[-1][0], layers[-1][1]
  s1, s6, outs = k1.shape[0], k6.shape[0], k6.shape[-1]
  padded = np.ascontiguousarray(padded, np.float32)
  height, width = padded.shape[0] - s1 - s6 + 2, padded.shape[1] - s1 - s6 + 2
  if wanted is None:
    wanted = np.ones((height, width), bool)
  # F5 features are needed on the grid of F6's input, (H + s6 - 1, W + s6 - 1): within F6's
  # window of a wanted pixel.
  need = ndimage.binary_dilation(np.pad(wanted, s6 // 2), np.ones((s6, s6), bool))
  grid_w = width + s6 - 1
  flat_input = padded.reshape(-1, padded.shape[2])
  dy, dx = np.divmod(np.arange(s1 * s1), s1)
  offsets = dy * padded.shape[1] + dx
  # (C5, outs*s6*s6): per output channel (F6's alpha, then a gated net's logits) its taps
  # in (i, j) order; each channel's taps and output are planes of their own, so the shifted
  # sums below run over contiguous rows whatever the number of channels.
  taps_kernel = np.moveaxis(k6, (2, 3), (0, 1)).reshape(k6.shape[2], -1)
  out = np.zeros((outs, height, width), np.float32)

  def run_band(y0):
    y1 = min(height, y0 + BAND_ROWS)
    rows, cols = np.nonzero(need[y0:y1 + s6 - 1])
    taps = np.zeros((outs, y1 - y0 + s6 - 1, grid_w, s6 * s6), np.float32)
    starts = (rows + y0) * padded.shape[1] + cols
    for c0 in range(0, len(starts), CHUNK_PIXELS):
      part = slice(c0, c0 + CHUNK_PIXELS)
      responses = _features(layers, flat_input, starts[part], offsets) @ taps_kernel
      taps[:, rows[part], cols[part]] = responses.reshape(-1, outs, s6 * s6).transpose(1, 0, 2)
    for channel in range(outs):
      band = out[channel, y0:y1]
      band += bias6[channel]
      for i in range(s6):
        for j in range(s6):
          band += taps[channel, i:i + y1 - y0, j:j + width, i * s6 + j]

  bands = [y0 for y0 in range(0, height, BAND_ROWS) if wanted[y0:y0 + BAND_ROWS].any()]
  # One band per core with single-threaded BLAS: these small matmuls ran 2x faster so than
  # with BLAS's own threads (benchmarks/predict.py, BUILD_NOTES.md issue 11).
  with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(os.cpu_count() or 1) as pool:
    list(pool.map(run_band, bands))
  if outs == 1:
    return np.where(wanted, out[0], np.float32(0.0))
  margin = architecture.margin(s1, s6)
  mattes = padded[margin:margin + height, margin:margin + width, architecture.RGB_CHANNELS:]
  alpha = np.zeros((height, width), np.float32)
  alpha[wanted] = _gated(out[:, wanted].T, mattes[wanted])
  return alpha


def _gated(out, mattes):
  """A gated net's output (models/dcnn.py) at n pixels from its F6 channels `out` (n, 1 + k):
  the softmax of the logits `out[:, 1:]` weighs the alpha `out[:, 0]` and the k input mattes."""
  logits = out[:, 1:]
  weights = np.exp(logits - logits.max(axis=1, keepdims=True))
  weights /= weights.sum(axis=1, keepdims=True)
  return np.einsum("nc,nc->n", weights, np.concatenate([out[:, :1], mattes], axis=1))
