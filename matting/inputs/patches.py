"""Balanced 27x27 training patches (paper §4.1).

The network sees a 27x27 window of the input stack and, with no padding in training, predicts
the central 15x15 alpha (6 pixels lost on each side). Patches are centred in the trimap's
unknown region, described by two counts over their 15x15 target — pixels with alpha > 0 and
pixels with a non-zero alpha gradient (many of the first and few of the second: a sharp
boundary; few and many: long hair) — clustered into 20 groups by k-means, and sampled
equally from every group so that no one kind of matte dominates training. Optionally
(`hard_weight` > 0, not in the paper) the patches within a group are drawn in proportion to
1 + hard_weight * (error of the classic inputs there) / (its mean), so that training sees
more of the places where the inputs are wrong: `hard_error` 'min' counts the better input's
error (where neither is right), 'mean' their mean (also where one of them is wrong, e.g. a
KNN matte that makes a veil opaque).
"""

import numpy as np
from absl import logging
from scipy import ndimage
from scipy.cluster import vq

from matting.data.trimap import trimap_masks
from matting.errors import MattingInputError

PATCH_IN = 27
PATCH_OUT = 15
MARGIN = (PATCH_IN - PATCH_OUT) // 2  # 6
_HALF_IN = PATCH_IN // 2  # 13
# Features count on 8-bit alpha levels, the GT's own quantisation: float noise below half a
# level (from interpolation or the solver) is neither "alpha > 0" nor "a gradient".
ALPHA_LEVELS = 255


def patch_centers(trimap, rng, max_per_image=None, stride=1):
  """(n, 2) int64 (row, col) centres of unknown pixels whose 27x27 window fits the image.

  Candidates lie on a `stride` grid; if there are more than max_per_image, a random subset
  (without replacement) is kept. None keeps them all.
  """
  _, _, unknown = trimap_masks(trimap)
  height, width = unknown.shape
  grid = np.zeros_like(unknown)
  grid[_HALF_IN:height - _HALF_IN:stride, _HALF_IN:width - _HALF_IN:stride] = True
  centers = np.argwhere(unknown & grid)
  if max_per_image is not None and len(centers) > max_per_image:
    keep = np.sort(rng.choice(len(centers), size=max_per_image, replace=False))
    centers = centers[keep]
  return centers.astype(np.int64)


def _windows(array, centers, size):
  """(n, size, size, ...) windows of array centred at centers, by one fancy index."""
  offsets = np.arange(size) - size // 2
  rows = centers[:, 0, None, None] + offsets[None, :, None]
  cols = centers[:, 1, None, None] + offsets[None, None, :]
  return array[rows, cols]


def extract_patches(stack, alpha, centers, dtype=np.float32):
  """27x27 input windows and their central 15x15 alpha targets, by fancy indexing.

  Args:
    stack: (H, W, C) input stack (matting.inputs.input_stack); may be an np.memmap, of which
      only the windows are read.
    alpha: (H, W) ground-truth alpha.
    centers: (n, 2) int (row, col), each at least 13 pixels from every border.
    dtype: dtype of the inputs (float16 halves their memory; the values are in [0, 1]).

  Returns:
    inputs (n, 27, 27, C) `dtype`, targets (n, 15, 15) float32.
  """
  centers = np.asarray(centers, dtype=np.int64).reshape(-1, 2)
  alpha = np.asarray(alpha)
  height, width = stack.shape[:2]
  if alpha.shape != (height, width):
    raise MattingInputError(f"alpha {alpha.shape} does not match the stack {stack.shape}")
  inside = ((centers >= _HALF_IN) & (centers < np.array([height, width]) - _HALF_IN)).all(axis=1)
  if not inside.all():
    raise MattingInputError(f"patch centre {centers[~inside][0].tolist()} is closer than "
                            f"{_HALF_IN} pixels to the border of a {height}x{width} image")
  inputs = np.asarray(_windows(stack, centers, PATCH_IN), dtype=dtype)
  targets = np.asarray(_windows(alpha, centers, PATCH_OUT), dtype=np.float32)
  return inputs, targets


def patch_features(targets):
  """(n, 2) int64: per target patch, #pixels with alpha > 0 and #with a non-zero gradient.

  Alpha is rounded to 8-bit levels (ALPHA_LEVELS) first; the gradient is np.gradient's
  central difference (one-sided at the patch border), so a one-pixel step marks the two
  pixels either side of it.
  """
  levels = np.round(np.asarray(targets, dtype=np.float32) * ALPHA_LEVELS)
  grad_rows, grad_cols = np.gradient(levels, axis=(1, 2))
  nonzero_alpha = (levels > 0).sum(axis=(1, 2))
  nonzero_grad = ((grad_rows != 0) | (grad_cols != 0)).sum(axis=(1, 2))
  return np.stack([nonzero_alpha, nonzero_grad], axis=1).astype(np.int64)


def cluster_patches(features, num_clusters=20, seed=0):
  """k-means labels (n,) int64 of standardised features; deterministic from seed.

  scipy.cluster.vq.kmeans2 with k-means++ initialisation. With fewer distinct feature
  vectors than num_clusters, k drops to their number. Labels are renumbered by increasing
  centroid (first feature, then second), so label 0 holds the patches with fewest alpha > 0
  pixels; a cluster emptied during the iterations simply has no label.
  """
  features = np.asarray(features, dtype=np.float64)
  if len(features) == 0:
    return np.zeros(0, dtype=np.int64)
  std = features.std(axis=0)
  scaled = (features - features.mean(axis=0)) / np.where(std > 0, std, 1.0)
  k = min(num_clusters, len(np.unique(scaled, axis=0)))
  if k == 1:
    return np.zeros(len(features), dtype=np.int64)
  centroids, labels = vq.kmeans2(scaled, k, iter=20, minit="++", missing="warn",
                                 seed=np.random.default_rng(seed))
  order = np.lexsort(centroids.T[::-1])
  rank = np.empty(k, dtype=np.int64)
  rank[order] = np.arange(k)
  return rank[labels]


def cluster_counts(labels, num_clusters=20):
  """(num_clusters,) number of patches in each cluster, for logging."""
  return np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_clusters)


HARD_ERRORS = {"min": np.min, "mean": np.mean}


def classic_error(stack, alpha, channels, reduce="min"):
  """(H, W) float32: |matte - alpha| of the stack's `channels` (the classic mattes), reduced
  over them per pixel by `reduce` ('min': the better matte's; 'mean'), averaged over the
  15x15 target window centred there."""
  alpha = np.asarray(alpha, dtype=np.float32)
  error = HARD_ERRORS[reduce](
      [np.abs(np.asarray(stack[..., c], np.float32) - alpha) for c in channels], axis=0)
  return ndimage.uniform_filter(error.astype(np.float32), PATCH_OUT, mode="nearest")


def check_hard_sampling(hard_weight, hard_error, num_classic, inputs="the inputs"):
  """One-line MattingInputErrors for hard-patch options that cannot work: an unknown
  `hard_error`, or hard_weight > 0 with no classic matte among `inputs` (`num_classic`)."""
  if hard_error not in HARD_ERRORS:
    raise MattingInputError(f"expected one of {sorted(HARD_ERRORS)}, got {hard_error!r}",
                            field="patches.hard_error")
  if hard_weight and not num_classic:
    raise MattingInputError(f"needs classic mattes among {inputs}", field="patches.hard_weight")


def hard_weights(errors, hard_weight):
  """Sampling weights 1 + hard_weight * error / mean error (all 1 when the errors are 0)."""
  errors = np.asarray(errors, dtype=np.float64)
  mean = errors.mean() if len(errors) else 0.0
  return 1.0 + hard_weight * (errors / mean if mean > 0 else np.zeros_like(errors))


def _weighted_sample(members, n, weights, rng):
  """n of `members` without replacement, each drawn with probability proportional to its
  weight (Efraimidis & Spirakis 2006: the n largest u^(1/w))."""
  keys = np.log(rng.random(len(members))) / weights
  return members[np.sort(np.argpartition(-keys, n - 1)[:n])] if n else members[:0]


def balanced_indices(labels, num_samples, rng, weights=None):
  """num_samples indices drawn equally from every non-empty cluster, shuffled.

  Each cluster gets num_samples // m (m non-empty clusters; the remainder goes one each to
  randomly chosen clusters). A cluster with enough patches is sampled without replacement; a
  smaller one gives all its patches once and fills the rest with replacement, so rare kinds
  of patch are repeated rather than under-represented. `weights` (n,) > 0, if given, makes
  a patch's chance within its cluster proportional to its weight.
  """
  labels = np.asarray(labels, dtype=np.int64)
  clusters = np.unique(labels)
  if len(clusters) == 0:
    raise MattingInputError("no patches to sample from")
  quota = np.full(len(clusters), num_samples // len(clusters))
  quota[rng.choice(len(clusters), num_samples % len(clusters), replace=False)] += 1
  picked = []
  for cluster, n in zip(clusters, quota):
    members = np.flatnonzero(labels == cluster)
    if n <= len(members):
      picked.append(rng.choice(members, n, replace=False) if weights is None
                    else _weighted_sample(members, n, weights[members], rng))
    else:
      p = None if weights is None else weights[members] / weights[members].sum()
      picked.extend([members, rng.choice(members, n - len(members), replace=True, p=p)])
  return rng.permutation(np.concatenate(picked))


def build_patch_set(examples, num_patches, seed, max_per_image=None, num_clusters=20, stride=1,
                    input_dtype=np.float32, hard_weight=0.0, classic_channels=(),
                    hard_error="min"):
  """A balanced training set of num_patches (input, target) pairs (§4.1).

  Two passes keep memory to the chosen patches: the first reads alpha and trimap only
  (centres and features of every candidate), then clusters and samples; the second cuts the
  27x27 input windows of the chosen patches from each stack. At the paper's scale (~1e5
  patches of 27x27x5) the inputs take 1.5 GB in float32, 0.73 GB with input_dtype=float16
  (the channels lie in [0, 1]; cast back to float32 per batch).

  Args:
    examples: sequence of (stack (H, W, C), alpha (H, W), trimap (H, W)); read twice. Stacks
      may be np.memmap (np.load(path, mmap_mode="r")) so only the chosen windows are read.
    num_patches: patches in the set (duplicates appear where a cluster is small).
    seed: integer seed for the centres, the clustering and the sampling.
    max_per_image: candidate centres per image (None: all on the stride grid).
    num_clusters: k-means groups (20 in the paper).
    stride: spacing of candidate centres.
    input_dtype: dtype of the stored inputs.
    hard_weight: > 0 draws patches within a cluster in proportion to 1 + hard_weight *
      (error of the classic inputs over the target, `hard_error`) / (its mean over all
      candidates); the first pass then reads the stacks' `classic_channels` too. 0: the
      paper's sampling.
    classic_channels: the stack channels holding classic mattes (for hard_weight).
    hard_error: 'min' (the better classic input's error) or 'mean' (their mean error).

  Returns:
    dict with inputs (n, 27, 27, C) input_dtype, targets (n, 15, 15) float32, labels (n,)
    cluster of each patch, counts (num_clusters,) candidates per cluster, and the patches'
    sources image_index (n,) and centers (n, 2).
  """
  if iter(examples) is examples:
    raise TypeError("build_patch_set reads examples twice: pass a sequence, not an iterator")
  rng = np.random.default_rng(seed)
  check_hard_sampling(hard_weight, hard_error, len(classic_channels))
  centers, image_index, features, errors = [], [], [], []
  for index, (stack, alpha, trimap) in enumerate(examples):
    image_centers = patch_centers(trimap, rng, max_per_image, stride)
    targets = _windows(np.asarray(alpha, dtype=np.float32), image_centers, PATCH_OUT)
    centers.append(image_centers)
    image_index.append(np.full(len(image_centers), index, dtype=np.int64))
    features.append(patch_features(targets))
    if hard_weight:
      errors.append(classic_error(stack, alpha, classic_channels, hard_error)[
          tuple(image_centers.T)])
  centers, image_index = np.concatenate(centers), np.concatenate(image_index)
  if len(centers) == 0:
    raise MattingInputError(f"no unknown pixel lies {_HALF_IN}+ pixels inside any image: "
                            "no training patch fits")
  labels = cluster_patches(np.concatenate(features), num_clusters, seed)
  counts = cluster_counts(labels, num_clusters)
  logging.info("patch candidates per cluster: %s", counts.tolist())
  weights = hard_weights(np.concatenate(errors), hard_weight) if hard_weight else None
  chosen = balanced_indices(labels, num_patches, rng, weights)

  num_channels = examples[0][0].shape[-1]
  inputs = np.empty((num_patches, PATCH_IN, PATCH_IN, num_channels), dtype=input_dtype)
  targets = np.empty((num_patches, PATCH_OUT, PATCH_OUT), dtype=np.float32)
  for index, (stack, alpha, _) in enumerate(examples):
    rows = np.flatnonzero(image_index[chosen] == index)
    if len(rows):
      inputs[rows], targets[rows] = extract_patches(stack, alpha, centers[chosen[rows]],
                                                    input_dtype)
  return dict(inputs=inputs, targets=targets, labels=labels[chosen], counts=counts,
              image_index=image_index[chosen], centers=centers[chosen])
