"""Network input stacks: normalised RGB plus the classic mattes of an input combination.

Paper Eq. (2): the DCNN sees Ī = I / ‖I‖ (per-pixel RGB magnitude removed; the magnitude is
better captured by the mattes) stacked with αc (closed-form) and αk (KNN). Fig. 6 compares
other combinations; each name lists its extra channels after RGB, in this order. 'knnrgb'
is the KNN matte with RGB features (classic method 'knn_rgb') instead of the paper's HSV.
'depth' is not from the paper: how far each unknown pixel lies from the nearest known one
(`unknown_depth`), context that the network's 13x13 window cannot see. 'nearest' is not
from the paper either: the nearest-sample matte (classic/nearest_sample.py), a cheap stand-in
for comprehensive sampling's per-pixel colour evidence. 'compsampled' is comprehensive
sampling's alpha before its Laplacian smoothing (classic method 'comp_sampled'): the same
evidence without the sparse solve; 'conf' adds each sample's confidence (classic method
'comp_confidence', from the same samples), the weight the smoothing would give it.
"""

import os

import numpy as np

from matting.classic import cache
from matting.errors import MattingInputError

# name -> the channels after normalised RGB: one computed from the trimap (TRIMAP_CHANNELS)
# or a classic method of matting.classic.
COMBINATIONS = {
    "rgb_trimap": ("trimap",),
    "rgb_cf": ("cf",),
    "rgb_knn": ("knn",),
    "rgb_cf_knn": ("cf", "knn"),
    "rgb_cf_comp": ("cf", "comp"),
    "rgb_cf_knn_comp": ("cf", "knn", "comp"),
    "rgb_cf_knnrgb": ("cf", "knn_rgb"),
    "rgb_cf_knnrgb_comp": ("cf", "knn_rgb", "comp"),
    "rgb_cf_knn_comp_depth": ("cf", "knn", "comp", "depth"),
    "rgb_cf_knn_nearest": ("cf", "knn", "nearest"),
    "rgb_cf_knn_comp_nearest": ("cf", "knn", "comp", "nearest"),
    "rgb_cf_knn_compsampled": ("cf", "knn", "comp_sampled"),
    "rgb_cf_knn_compsampled_conf": ("cf", "knn", "comp_sampled", "comp_confidence"),
}
TRIMAP_CHANNELS = ("trimap", "depth")
DEPTH_SCALE = 64.0  # unknown_depth saturates 64 px deep (the 13x13 window reaches 6 px).
# A channel that may start from a source network's weights for another channel (train.init_from
# from a network without it): the same matte's role with other features.
STAND_INS = {"knn_rgb": "knn"}
DEFAULT_COMBINATION = "rgb_cf_knn"


def extra_channels(combination):
  """The channel names after RGB for a combination; raises a clear error for unknown names."""
  if combination not in COMBINATIONS:
    raise MattingInputError(f"input combination {combination!r} is unknown; choose from "
                            f"{', '.join(COMBINATIONS)}", field="inputs.combination")
  return COMBINATIONS[combination]


def classic_methods(combination):
  """The classic mattes a combination needs (the trimap channel needs none)."""
  return tuple(c for c in extra_channels(combination) if c not in TRIMAP_CHANNELS)


RGB_CHANNELS = ("r", "g", "b")  # Normalised RGB leads every stack; the combination's follow.


def channel_names(combination):
  """The names of a combination's input channels in stack order: RGB_CHANNELS, then
  extra_channels (what maps one combination's first-layer weights onto another's)."""
  return RGB_CHANNELS + tuple(extra_channels(combination))


def num_channels(combination):
  return len(channel_names(combination))


def normalized_rgb(image, eps=1e-6):
  """Ī = I / ‖I‖ per pixel; black pixels (‖I‖ < eps) map to 0 rather than NaN."""
  image = np.asarray(image, dtype=np.float32)
  norm = np.linalg.norm(image, axis=-1, keepdims=True)
  return np.where(norm > eps, image / np.maximum(norm, eps), 0.0).astype(np.float32)


def unknown_depth(trimap, scale=DEPTH_SCALE):
  """(H, W) float32: each unknown pixel's Euclidean distance to the nearest known (FG or BG)
  pixel divided by `scale`, at most 1; 0 on known pixels. Wide unknown regions (veils,
  transparent objects) and thin bands (hair edges) look alike through a 13x13 window; this
  tells them apart."""
  from scipy import ndimage

  from matting.data.trimap import trimap_masks
  _, _, unknown = trimap_masks(trimap)
  if unknown.all():  # No known pixel: every pixel is as deep as the channel says.
    return np.ones(unknown.shape, np.float32)
  distance = ndimage.distance_transform_edt(unknown)  # 0 everywhere without unknown pixels.
  return np.minimum(distance / scale, 1.0).astype(np.float32)


def input_stack(image, trimap, mattes, combination=DEFAULT_COMBINATION):
  """(H, W, 3 + k) float32: normalised RGB then the combination's channels.

  Args:
    image: (H, W, 3) RGB in [0,1].
    trimap: (H, W) in {0, 0.5, 1} (used by the TRIMAP_CHANNELS).
    mattes: {method: (H, W) alpha} holding at least `classic_methods(combination)`.
  """
  channels = [normalized_rgb(image)]
  for name in extra_channels(combination):
    if name == "trimap":
      channels.append(np.asarray(trimap, np.float32)[..., None])
    elif name == "depth":
      channels.append(unknown_depth(trimap)[..., None])
    elif name in mattes:
      channels.append(np.asarray(mattes[name], np.float32)[..., None])
    else:
      raise MattingInputError(f"input combination {combination!r} needs the {name!r} matte, "
                              f"which was not computed (have: {sorted(mattes)})")
  return np.concatenate(channels, axis=-1)


def example_stacks(examples, combination, cache_dir, processes=None):
  """[(stack, alpha, trimap)] per example, with the combination's classic mattes from the
  cache under `cache_dir/mattes` (computed there when missing)."""
  methods = classic_methods(combination)
  mattes = (cache.cached_mattes(os.path.join(cache_dir, "mattes"), examples, methods,
                                processes=processes) if methods else [{}] * len(examples))
  return [(input_stack(e.image, e.trimap, m, combination), e.alpha, e.trimap)
          for e, m in zip(examples, mattes)]
