"""Comprehensive sampling matting (Shahrian, Rajan, Price, Cohen, CVPR 2013).

The DCNN's third classic input (Cho et al. 2016, Sec. 3). Three stages, as in the paper:

1. Sampling range. The unknown region is cut into bands by distance to the known FG (and,
   separately, to the known BG). Band j draws its FG samples from the known FG within
   min_width + (outer distance of band j) of the unknown region, so pixels deep in the
   unknown region sample from wider known regions (`sampling_regions`).
2. Candidate samples. Each sampling region is clustered twice: by colour, then every colour
   cluster by position, so that every colour distribution of the region is represented even
   when it is small (`candidate_samples`). A candidate is a sub-cluster's mean colour,
   colour variance, mean position and spatial spread. Clustering is k-means (scipy's
   kmeans2, k-means++ seeding from a seeded Generator) rather than a Gaussian mixture:
   SciPy has no mixture model, k-means is the hard-assignment limit of an isotropic one,
   and the per-cluster variances recover the Gaussian parameters the objective needs.
3. Selection. Every unknown pixel takes the (F, B) pair of its bands' candidates that
   maximises O = exp(-cost) (`best_pairs`), with
     cost = 0.5 d^2 / v + 1.5 log v                colour fit
          + spatial_weight * (s_F + s_B)            spatial closeness to the clusters
          + overlap_weight * overlap(F, B)          overlap of the two colour distributions
   d = ||I - (a F + (1-a) B)|| is the chromatic distortion at a = (I-B).(F-B)/||F-B||^2
   clipped to [0,1]; v = a^2 var_F + (1-a)^2 var_B + noise^2, so the colour term is the
   negative log-likelihood of I under the blend of the clusters' isotropic Gaussians (as in
   Bayesian matting): a textured cluster may miss by more but pays for its spread.
   s_F = ||x - mu_F|| / (d_F(x) + spread_F) is the distance to the cluster relative to the
   pixel's own distance to the known FG; overlap = 1 / (1 + ||mu_F - mu_B||^2 / (var_F +
   var_B)) favours pairs drawn from well separated distributions. The paper's three factors
   (colour fit, spatial statistics, separation of the distributions) are kept; their exact
   functional forms here are ours.

Post-processing (following Robust Matting): the sampled alpha a_hat is smoothed with the
matting Laplacian L, minimising a^T L a + lam * sum_i conf_i (a_i - a_hat_i)^2 with the
trimap pixels fixed, conf_i = exp(-(distortion_i / confidence_scale)^2): Robust Matting's
edges to two virtual nodes held at alpha 1 and 0 (weights lam conf a_hat and lam conf
(1 - a_hat)) add exactly lam C to the system's diagonal and lam C a_hat to its right-hand
side, which is how the closed-form solver takes it (its `prior`, tiled as it is). The default
lam is small: on alphamatting.com's training set the sampled alpha works best as a gentle
pull on the Laplacian's solution, correcting it where the local colour-line model fails.
"""

import warnings

import numpy as np
import scipy.cluster.vq as vq
import scipy.ndimage as ndi
from scipy.spatial.distance import cdist

from matting.classic import threads
from matting.classic.closed_form import closed_form_alpha, solve_plan
from matting.classic.nearest_sample import pair_alpha
from matting.data.trimap import check_image_and_trimap, trimap_masks
from matting.errors import MattingInputError


# best_pairs holds ~1.5 KB per pixel it scores (candidate indices, costs, dot products): the
# unknown pixels go to it in blocks of at most this many (each pixel's pair is its own).
PIXEL_BLOCK = 1 << 16


def _kmeans_labels(points, k, rng, max_fit_points, distinct=False):
  """Labels (n,) in [0, k') of a k-means clustering, fitted on a random subset of points.

  k' <= k: k is capped by the number of distinct points (counted unless `distinct` says
  the points are all different), and clusters left empty are dropped.
  """
  fit = points
  if len(points) > max_fit_points:
    fit = points[rng.choice(len(points), max_fit_points, replace=False)]
  k = min(k, len(fit) if distinct else len(np.unique(fit, axis=0)))
  if k <= 1:
    return np.zeros(len(points), dtype=np.int64)
  with warnings.catch_warnings():  # An empty cluster is dropped below, not an error.
    warnings.filterwarnings("ignore", "One of the clusters is empty")
    centroids, _ = vq.kmeans2(fit, k, minit="++", rng=rng)
  labels, _ = vq.vq(points, centroids, check_finite=False)
  return _consecutive(labels)


def _consecutive(labels):
  """Renumbers non-negative integer labels to 0..m-1, keeping their order."""
  present = np.bincount(labels) > 0
  return (np.cumsum(present) - 1)[labels]


def candidate_samples(colours, positions, num_colour_clusters, num_spatial_clusters, rng,
                      max_fit_points=4000):
  """Two-level clustering of one sampling region into candidate samples (stage 2).

  Args:
    colours: (n, 3) colours of the region's known pixels.
    positions: (n, 2) their (row, column) coordinates.
    num_colour_clusters: colour clusters of the first level.
    num_spatial_clusters: spatial sub-clusters of every colour cluster.
    rng: np.random.Generator for the k-means seeding and subsampling.
    max_fit_points: k-means is fitted on at most this many points, then all are assigned.

  Returns:
    dict of (K,) arrays, one entry per sub-cluster: 'colour' (K, 3) mean colour,
    'colour_var' mean per-channel colour variance, 'position' (K, 2) mean position,
    'spread' RMS distance to the mean position, 'colour_cluster' its colour cluster.
  """
  colour_labels = _kmeans_labels(colours, num_colour_clusters, rng, max_fit_points)
  labels = np.empty(len(colours), dtype=np.int64)
  for c in range(colour_labels.max() + 1):
    members = np.flatnonzero(colour_labels == c)
    sub = _kmeans_labels(positions[members].astype(np.float64), num_spatial_clusters, rng,
                         max_fit_points, distinct=True)
    labels[members] = c * num_spatial_clusters + sub
  colour_cluster = np.unique(labels) // num_spatial_clusters
  labels = _consecutive(labels)
  count = np.bincount(labels).astype(np.float64)

  def mean(values):
    return np.stack([np.bincount(labels, v) for v in values.T], axis=1) / count[:, None]

  colour = mean(colours)
  position = mean(positions.astype(np.float64))
  colour_var = np.maximum(mean(colours.astype(np.float64) ** 2) - colour**2, 0).mean(axis=1)
  position_var = np.maximum(mean(positions.astype(np.float64) ** 2) - position**2, 0)
  return {"colour": colour, "colour_var": colour_var, "position": position,
          "spread": np.sqrt(position_var.sum(axis=1)),
          "colour_cluster": colour_cluster}


def sampling_regions(known, unknown, num_bands, min_width):
  """Bands of the unknown pixels by distance to one known side, and each band's samples.

  Args:
    known: (H, W) bool, the known FG (or BG).
    unknown: (H, W) bool, the unknown region.
    num_bands: bands of equal pixel count, from the nearest to the farthest.
    min_width: width (pixels) of the nearest band's sampling region.

  Returns:
    band: (U,) band of every unknown pixel (row-major order), 0 = nearest to `known`.
    distance: (U,) every unknown pixel's distance to `known`.
    regions: num_bands nested (H, W) bool masks: band j samples the strip of `known`
      min_width + (band j's farthest distance) pixels deep along the unknown region.
  """
  distance = ndi.distance_transform_edt(~known)[unknown]
  edges = np.quantile(distance, np.linspace(0.0, 1.0, num_bands + 1)[1:])
  band = np.searchsorted(edges[:-1], distance, side="left")
  distance_to_unknown = ndi.distance_transform_edt(~unknown)
  # Depth into `known`, 0 at its pixels nearest the unknown region (usually adjacent).
  depth = distance_to_unknown - distance_to_unknown[known].min()
  regions = [known & (depth < min_width + edge) for edge in edges]
  return band, distance, regions


def _overlap(fg, bg):
  """(nF, nB) overlap of the clusters' colour distributions, 1 / (1 + separation).

  separation = ||mu_F - mu_B||^2 / (var_F + var_B), a Fisher ratio: near 0 (overlap 1) for
  distributions that share colours, large (overlap -> 0) for well separated ones.
  """
  gap_sq = ((fg["colour"][:, None, :] - bg["colour"][None, :, :]) ** 2).sum(-1)
  spread = fg["colour_var"][:, None] + bg["colour_var"][None, :] + 1e-6
  return 1.0 / (1.0 + gap_sq / spread)


def _nearest_candidates(positions, own_distance, samples, spatial_weight, chunk=1 << 15):
  """(U, C) index and spatial cost of every colour cluster's closest candidate, per pixel.

  The spatial cost of a candidate is spatial_weight * ||x - mu|| / (d(x) + spread): its
  distance relative to the pixel's own distance to that side of the trimap, so that pixels
  deep in the unknown region accept farther samples. The sub-clusters of one colour cluster
  differ mainly in position, so only the closest one competes. Pixels go in chunks on one
  thread per core (SciPy's distances and NumPy's reductions release the GIL).
  """
  cluster = samples["colour_cluster"]
  members = [np.flatnonzero(cluster == c) for c in range(cluster.max() + 1)]
  nearest = np.empty((len(positions), len(members)), dtype=np.int64)
  cost = np.empty((len(positions), len(members)))

  def fill(start):
    rows = slice(start, start + chunk)
    for c, m in enumerate(members):
      relative = (cdist(positions[rows], samples["position"][m])
                  / (own_distance[rows, None] + samples["spread"][m]))
      best = relative.argmin(axis=1)
      nearest[rows, c] = m[best]
      cost[rows, c] = spatial_weight * relative[np.arange(len(best)), best]

  threads.map_on_cores(fill, range(0, len(positions), chunk))
  return nearest, cost


def best_pairs(colours, positions, dist_fg, dist_bg, fg, bg, noise, spatial_weight,
               overlap_weight, chunk_pairs=1 << 18):
  """Alpha and chromatic distortion of every pixel's best (F, B) candidate pair.

  Each pixel weighs C_F x C_B pairs, one per pair of colour clusters (see
  `_nearest_candidates`), by the cost in the module docstring.

  Args:
    colours: (U, 3) colours of the unknown pixels.
    positions: (U, 2) their coordinates.
    dist_fg, dist_bg: (U,) their distances to the known FG and BG.
    fg, bg: candidate dicts (see `candidate_samples`) shared by all U pixels.
    noise: colour noise (std) added to the clusters' spreads in the colour term.
    spatial_weight, overlap_weight: weights of the spatial and overlap terms.
    chunk_pairs: pixel x pair elements per batch (bounds memory).

  Returns:
    (alpha, distortion), both (U,) float64.
  """
  colours = np.asarray(colours, dtype=np.float64)
  f, b = fg["colour"], bg["colour"]
  near_f, spatial_f = _nearest_candidates(positions, dist_fg, fg, spatial_weight)
  near_b, spatial_b = _nearest_candidates(positions, dist_bg, bg, spatial_weight)
  # With v = I - B and g = F - B: a = v.g / g.g and d^2 = v.v - a (2 v.g - a g.g), where
  # v.g = I.F - F.B + (B.B - I.B). Pair terms come from (K_F, K_B) tables, pixel terms from
  # (U, C) arrays, so the (pixel, F, B) arrays below hold scalars, in float32.
  f_dot_b = (f @ b.T).astype(np.float32).ravel()
  gap_sq = (((f[:, None] - b[None]) ** 2).sum(-1) + 1e-12).astype(np.float32).ravel()
  overlap = (overlap_weight * _overlap(fg, bg)).astype(np.float32).ravel()
  i_dot_f = np.einsum("uc,ukc->uk", colours, f[near_f]).astype(np.float32)
  i_dot_b = np.einsum("uc,ukc->uk", colours, b[near_b])
  b_sq = (b**2).sum(-1)[near_b]
  b_term = (b_sq - i_dot_b).astype(np.float32)
  v_sq = ((colours**2).sum(-1)[:, None] - 2.0 * i_dot_b + b_sq).astype(np.float32)
  var_f = fg["colour_var"][near_f].astype(np.float32)
  var_b = bg["colour_var"][near_b].astype(np.float32)
  spatial_f = spatial_f.astype(np.float32)
  spatial_b = spatial_b.astype(np.float32)

  best = np.empty(len(colours), dtype=np.int64)
  step = max(1, chunk_pairs // (near_f.shape[1] * near_b.shape[1]))

  def score(start):  # One chunk of pixels; chunks go on one thread per core.
    r = slice(start, start + step)
    pair = near_f[r][:, :, None] * len(b) + near_b[r][:, None, :]
    v_dot_g = i_dot_f[r][:, :, None] - f_dot_b[pair] + b_term[r][:, None, :]
    g_sq = gap_sq[pair]
    a = np.clip(v_dot_g / g_sq, 0.0, 1.0)
    d_sq = np.maximum(v_sq[r][:, None, :] - a * (2.0 * v_dot_g - a * g_sq), 0.0)
    # v = a^2 var_F + (1-a)^2 var_B + noise^2
    var = (a * (a * (var_f[r][:, :, None] + var_b[r][:, None, :]) - 2.0 * var_b[r][:, None, :])
           + (var_b[r] + noise**2)[:, None, :])
    spatial = spatial_f[r][:, :, None] + spatial_b[r][:, None, :]
    cost = 0.5 * d_sq / var + 1.5 * np.log(var) + spatial + overlap[pair]
    best[r] = cost.reshape(len(cost), -1).argmin(axis=1)

  threads.map_on_cores(score, range(0, len(colours), step))

  # The winners' alpha and distortion, recomputed directly in float64.
  best_f, best_b = np.divmod(best, near_b.shape[1])
  rows = np.arange(len(colours))
  return pair_alpha(colours, f[near_f[rows, best_f]], b[near_b[rows, best_b]])


def sampled_alpha(image, trimap, seed=0, num_bands=4, min_width=8, num_colour_clusters=20,
                  num_spatial_clusters=16, noise=0.01, spatial_weight=1.0, overlap_weight=20.0):
  """Per-pixel sampled alpha and chromatic distortion before smoothing (stages 1-3).

  Args:
    image: (H, W, 3) float image in [0, 1].
    trimap: (H, W) trimap in {0, 0.5, 1} with FG and BG pixels.
    seed: seeds the k-means; the result is deterministic given it.
    num_bands, min_width: see `sampling_regions`.
    num_colour_clusters, num_spatial_clusters: see `candidate_samples`.
    noise, spatial_weight, overlap_weight: see `best_pairs`.

  Returns:
    (alpha_hat, distortion): float64 (H, W); known pixels hold the trimap value and 0.
  """
  rng = np.random.default_rng(seed)
  image = np.asarray(image, dtype=np.float64)
  fg, bg, unknown = trimap_masks(trimap)
  alpha = fg.astype(np.float64)
  distortion = np.zeros(alpha.shape)
  if not unknown.any():
    return alpha, distortion
  sides = []
  for known in (fg, bg):
    band, distance, regions = sampling_regions(known, unknown, num_bands, min_width)
    candidates = []
    for region in regions:
      rows, cols = np.nonzero(region)
      candidates.append(candidate_samples(image[rows, cols], np.stack([rows, cols], axis=1),
                                          num_colour_clusters, num_spatial_clusters, rng))
    sides.append((band, distance, candidates))
  (band_fg, dist_fg, candidates_fg), (band_bg, dist_bg, candidates_bg) = sides

  rows, cols = np.nonzero(unknown)
  positions = np.stack([rows, cols], axis=1).astype(np.float64)
  colours = image[rows, cols]
  alpha_u = np.empty(len(rows))
  distortion_u = np.empty(len(rows))
  for j in range(num_bands):
    for k in range(num_bands):
      band_pair = np.flatnonzero((band_fg == j) & (band_bg == k))
      for start in range(0, len(band_pair), PIXEL_BLOCK):  # Bounded memory at any size.
        members = band_pair[start:start + PIXEL_BLOCK]
        alpha_u[members], distortion_u[members] = best_pairs(
            colours[members], positions[members], dist_fg[members], dist_bg[members],
            candidates_fg[j], candidates_bg[k], noise, spatial_weight, overlap_weight)
  alpha[rows, cols] = alpha_u
  distortion[rows, cols] = distortion_u
  return alpha, distortion


def _confidence(distortion, confidence_scale):
  """A sample's weight in the smoothing, exp(-(distortion / confidence_scale)^2)."""
  return np.exp(-(distortion / confidence_scale) ** 2)


def smooth_alpha(image, trimap, alpha_hat, confidence, lam=0.003, eps=1e-7, radius=1,
                 preconditioner="cholesky", rtol=1e-6, max_memory=None):
  """Confidence-weighted Laplacian smoothing of a sampled alpha (post-processing).

  Solves (L + lam C) alpha = lam C alpha_hat on the unknown pixels, trimap pixels fixed,
  C = diag(confidence), L the closed-form matting Laplacian: the closed-form solve with
  hard constraints and lam C alpha_hat as its data term (`closed_form_alpha`'s prior), so
  it is tiled and kept within the memory budget (`max_memory`) as that solve is.

  Returns:
    float32 (H, W) alpha in [0, 1].
  """
  unknown = trimap_masks(trimap)[2]
  weight = lam * np.where(unknown, confidence, 0.0)
  return closed_form_alpha(image, trimap, eps=eps, radius=radius, constraint="hard",
                           preconditioner=preconditioner, rtol=rtol, max_memory=max_memory,
                           prior=(weight, alpha_hat))


def comprehensive_alpha(image, trimap, seed=0, confidence_scale=0.03, lam=0.003, eps=1e-7,
                        radius=1, preconditioner="cholesky", max_memory=None, **sampling):
  """Comprehensive sampling alpha matte, float32 (H, W) in [0, 1].

  Args:
    image: (H, W, 3) float image in [0, 1].
    trimap: (H, W) trimap in {0, 0.5, 1}.
    seed: seeds the clustering; the result is deterministic given it.
    confidence_scale: distortion at which a sample's confidence falls to 1/e.
    lam: weight of the sampled alpha against the Laplacian's smoothness; 0 skips smoothing.
    eps, radius: matting Laplacian parameters.
    max_memory: the smoothing solve's memory budget (`closed_form_alpha`).
    **sampling: passed to `sampled_alpha` (bands, clusters and cost weights).
  """
  image, trimap = check_image_and_trimap(image, trimap)
  if lam > 0:  # A budget the smoothing's tiles cannot meet fails before the sampling.
    try:
      solve_plan(trimap, radius, constraint="hard", max_memory=max_memory)
    except MattingInputError as error:
      raise MattingInputError(f"comprehensive sampling's smoothing: {error}",
                              field=error.field) from None
  alpha_hat, distortion = sampled_alpha(image, trimap, seed=seed, **sampling)
  alpha = alpha_hat
  if lam > 0 and trimap_masks(trimap)[2].any():
    confidence = _confidence(distortion, confidence_scale)
    alpha = smooth_alpha(image, trimap, alpha_hat, confidence, lam=lam, eps=eps, radius=radius,
                         preconditioner=preconditioner, max_memory=max_memory)
  return np.clip(alpha, 0.0, 1.0).astype(np.float32)


def comprehensive_sampled_alpha(image, trimap, seed=0, **sampling):
  """Comprehensive sampling's per-pixel alpha without the Laplacian smoothing, float32 (H, W).

  Stages 1-3 only (`sampled_alpha`, clipped): no sparse solve, so the cost grows with the
  unknown pixels and the candidates alone. Not the paper's matte; a network input that leaves
  the smoothing to the network, which sees the closed-form matte beside it. As such it gave
  most of the smoothed matte's gain except on wide unknown regions, and saved less time than
  the sampling costs (BUILD_NOTES.md, issue 13, thirteenth pass).
  """
  return comprehensive_alpha(image, trimap, seed=seed, lam=0, **sampling)


def comprehensive_confidence(image, trimap, seed=0, confidence_scale=0.03, **sampling):
  """How far to trust the sampled alpha, float32 (H, W) in [0, 1]: exp(-(d / scale)^2) of its
  best pair's chromatic distortion d on the unknown pixels (the weight the smoothing gives
  each sample), 1 on the known ones. Not a matte: a network input beside
  `comprehensive_sampled_alpha` (the same seed gives the same samples), so that the network
  can do the smoothing's job of falling back on the closed-form matte where samples fit badly.
  """
  image, trimap = check_image_and_trimap(image, trimap)
  _, distortion = sampled_alpha(image, trimap, seed=seed, **sampling)
  return _confidence(distortion, confidence_scale).astype(np.float32)
