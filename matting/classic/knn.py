"""KNN matting (Chen, Li, Tang, CVPR 2012 / TPAMI 2013).

Nonlocal matting: every pixel is tied to its K nearest neighbours in a feature space of
colour and (weakly weighted) position, with the kernel k(i, j) = 1 - ||X_i - X_j||_1 / C
(Sec. 3, Eq. 2), and alpha minimises alpha^T L alpha + lam * sum_known (alpha - m)^2 with
L = D - A (Eq. 8). Defaults follow the authors' MATLAB code (knn_matting.m): two neighbour
passes, K = 10 with the spatial coordinates at full weight (`level`), then K = 2 with them
divided by 100; lam = 100; features (cos 2*pi*h, sin 2*pi*h, s, v, x, y) of Sec. 3.1.
Pixels are indexed row-major (index = row * W + col), like np.ravel and closed_form.py.
"""

import numpy as np
import scipy.sparse as sp
from scipy import ndimage
from scipy.spatial import cKDTree

from matting.classic import resolution, sparse_solve, threads
from matting.data.trimap import check_image, check_image_and_trimap, trimap_masks
from matting.errors import MattingInputError, check_range

COLOR_SPACES = ("hsv", "rgb")
SPATIAL_DECAY = 0.01  # knn_matting.m divides the coordinates by 100 after each pass.
SEARCH_EPS = 0.5  # knn_alpha's neighbour search: approximate (see its docstring)
RTOL = 1e-6  # knn_alpha's CG tolerance (see its docstring)
ROW_BLOCK_PIXELS = 65_536  # Pixels per block of the per-pixel passes run on threads.


def rgb_to_hsv(image):
  """(..., 3) RGB in [0, 1] -> (..., 3) HSV in [0, 1]; hue is 0 for grey pixels."""
  image = np.asarray(image, dtype=np.float64)
  r, g, b = image[..., 0], image[..., 1], image[..., 2]
  value = image.max(axis=-1)
  chroma = value - image.min(axis=-1)
  safe_chroma = np.where(chroma > 0, chroma, 1.0)
  hue = np.where(value == r, (g - b) / safe_chroma,
                 np.where(value == g, 2.0 + (b - r) / safe_chroma,
                          4.0 + (r - g) / safe_chroma))
  hue = np.where(chroma > 0, (hue / 6.0) % 1.0, 0.0)
  saturation = chroma / np.where(value > 0, value, 1.0)
  return np.stack([hue, saturation, value], axis=-1)


def knn_features(image, level=1.0, color_space="hsv"):
  """(N, d) float64 feature vectors X(i) of Sec. 3.1, N = H*W, spatial coordinates last.

  'hsv': (cos 2*pi*h, sin 2*pi*h, s, v, x, y), d = 6, the paper's choice (hue on the unit
  circle, so that reds near h = 0 and h = 1 are close). 'rgb': (r, g, b, x, y), d = 5, as
  in knn_matting.m. x, y are the column and row divided by the image diagonal
  sqrt(H^2 + W^2) and multiplied by `level`, as in the MATLAB code. Computed in blocks of
  rows on one thread per core (NumPy's element-wise kernels release the GIL).
  """
  image = check_image(image)
  if color_space not in COLOR_SPACES:
    raise MattingInputError(f"color_space: expected one of {COLOR_SPACES}, got {color_space!r}")
  height, width = image.shape[:2]
  scale = level / np.hypot(height, width)
  features = np.empty((height * width, 6 if color_space == "hsv" else 5))
  block_rows = max(1, ROW_BLOCK_PIXELS // width)

  def fill(start):
    stop = min(start + block_rows, height)
    out = features[start * width:stop * width]
    pixels = image[start:stop].reshape(-1, 3)
    if color_space == "hsv":
      hsv = rgb_to_hsv(pixels)
      angle = 2.0 * np.pi * hsv[:, 0]
      out[:, 0], out[:, 1], out[:, 2:4] = np.cos(angle), np.sin(angle), hsv[:, 1:]
    else:
      out[:, :3] = pixels
    rows, cols = np.divmod(np.arange(start * width, stop * width), width)
    out[:, -2], out[:, -1] = cols * scale, rows * scale

  threads.map_on_cores(fill, range(0, height, block_rows))
  return features


def _nearest_neighbours(points, k, query, order=None, eps=0.0, tree=None):
  """(S, k) indices of the k nearest points (Euclidean) to the S points[query], self excluded,
  and an order of all N points that keeps close points close (a KD-tree's leaf order).

  Exact search with pykdtree (OpenMP threads; its queries 1.5x faster than SciPy's cKDTree's
  with two workers at 0.5 MP, both passes with the order tree 0.77x the time:
  benchmarks/knn_search.py). Queries run in the leaf order of a cKDTree (an
  unbalanced tree with 32-point leaves, built for the order alone), so that consecutive
  queries visit the same nodes (1.3-2x faster than row-major order); `order`, when given,
  is used instead of building one (the second pass reuses the first's: as fast). Asks for
  k + 1 and drops the point itself; where ties crowd a point out of its own list, the
  farthest match is dropped instead, so every row keeps k other points.

  Args:
    points: (N, d) float64.
    k: neighbours per query, k < N.
    query: (N,) bool, the points whose neighbours are wanted (rows in index order).
    order: optional (N,) permutation of the points to run the queries in.
    eps: 0 for the exact search; > 0 lets the i-th neighbour returned be up to (1 + eps)
      times farther than the true i-th (pykdtree's approximate search: fewer nodes visited).
    tree: optional pykdtree KDTree of `points` (`_search_trees`), else one is built.
  """
  points = np.ascontiguousarray(points, dtype=np.float64)
  if tree is None:
    (tree,), leaf_order = _search_trees([points], with_order=order is None)
    order = leaf_order if order is None else order
  elif order is None:
    order = _leaf_order(points)
  queries = order[query[order]]
  _, found = tree.query(points[queries], k=k + 1, eps=eps)
  return without_self(found, queries, query), order


def _search_trees(passes, with_order=True):
  """(pykdtree KD-trees of each (N, d) float64 array in `passes`, the leaf order of the first
  or None). The builds release the GIL and run side by side (one thread per core): at 2 MP
  the two passes' trees and the order took 0.39 s instead of 0.69 s one after another."""
  from pykdtree.kdtree import KDTree
  jobs = [(KDTree, points) for points in passes]
  if with_order:
    jobs.append((_leaf_order, passes[0]))
  built = threads.map_on_cores(lambda job: job[0](job[1]), jobs)
  return built[:len(passes)], built[len(passes)] if with_order else None


def _leaf_order(points):
  """The points in the leaf order of an unbalanced cKDTree with 32-point leaves (the
  queries' order: consecutive queries then visit the same nodes)."""
  return cKDTree(points, leafsize=32, balanced_tree=False, compact_nodes=False).indices


def without_self(found, queries, query):
  """(S, k) neighbour lists in index order from (S, k + 1) search results `found` of the
  points `queries` (the searched points of the mask `query`, in the order they were asked):
  each point's own index is dropped, or the farthest match where ties crowd it out."""
  kept = found[:, 1:].astype(np.int64)  # Almost always each point is its own first match.
  other = np.flatnonzero(found[:, 0] != queries)
  if len(other):
    drop = found[other] == queries[other, None]
    drop[~drop.any(axis=1), -1] = True
    kept[other] = found[other][~drop].reshape(len(other), -1)
  neighbours = np.empty_like(kept)
  neighbours[(np.cumsum(query) - 1)[queries]] = kept
  return neighbours


def _neighbour_weights(features, n_neighbors, spatial_decay, search, relabel=False,
                       search_eps=SEARCH_EPS):
  """(S, sum K) neighbours of the S searched pixels over all passes, their weights W_ij, the
  search mask, and the pixel order the neighbours are labelled in (None: index order).

  relabel=True numbers only the pixels the graph touches (the searched ones and their
  neighbours; the others would get empty rows) and in the first pass's KD-tree leaf order,
  rows and neighbour indices alike: neighbours in feature space then sit at nearby indices,
  so the distance gathers here and the sparse products of the solve read memory almost in
  sequence, and the solve's system needs no slicing (see `knn_alpha`).
  """
  features = np.asarray(features, dtype=np.float64)
  if features.ndim != 2 or features.shape[1] < 3:
    raise MattingInputError(f"features: expected (N, d >= 3), got shape {features.shape}")
  num_points = features.shape[0]
  n_neighbors = tuple(int(k) for k in np.atleast_1d(n_neighbors))
  if not n_neighbors or min(n_neighbors) < 1 or max(n_neighbors) >= num_points:
    raise MattingInputError(f"n_neighbors: need 1 <= K < number of pixels ({num_points}) "
                            f"in every pass, got {n_neighbors}")
  search = np.ones(num_points, bool) if search is None else np.asarray(search, bool).ravel()
  if search.shape != (num_points,):
    raise MattingInputError(f"search: expected {num_points} entries, got {search.size}")
  passes = [features]  # Pass p sees the spatial columns times spatial_decay**p.
  for _ in n_neighbors[1:]:
    passes.append(passes[-1].copy())
    passes[-1][:, -2:] *= spatial_decay
  trees, leaf_order = _search_trees(passes)
  neighbours = [_nearest_neighbours(points, k, search, leaf_order, search_eps, tree)[0]
                for k, points, tree in zip(n_neighbors, passes, trees)]
  del trees
  features = passes[-1] if len(passes) > 1 else passes[-1].copy()  # Not the caller's array.
  del passes
  features[:, -2:] *= spatial_decay  # The kernel's: spatial_decay**len(n_neighbors).
  neighbours = np.concatenate(neighbours, axis=1)
  if relabel:  # Before the distances, so that their gathers read nearby memory too.
    linked = search.copy()
    linked[neighbours.ravel()] = True
    leaf_order = leaf_order[linked[leaf_order]]
    rank = np.empty(num_points, dtype=np.int64)
    rank[leaf_order] = np.arange(len(leaf_order))
    rows = np.argsort(rank[search])  # The searched pixels (rows) in their new order.
    neighbours = _gathered(lambda part: rank[neighbours[rows[part]]], len(rows),
                           neighbours.shape[1:], neighbours.dtype)
    features = _gathered(lambda part: features[leaf_order[part]], len(leaf_order),
                         features.shape[1:], features.dtype)
    search = search[leaf_order]
  else:
    leaf_order = None
  weights = _kernel_weights(features, np.flatnonzero(search), neighbours)
  return neighbours, weights, search, leaf_order


def _gathered(take, length, shape, dtype):
  """(length, *shape) array whose slice `part` is take(part), filled in blocks of
  ROW_BLOCK_PIXELS on one thread per core (NumPy's gathers release the GIL)."""
  out = np.empty((length, *shape), dtype=dtype)

  def fill(start):
    part = slice(start, min(start + ROW_BLOCK_PIXELS, length))
    out[part] = take(part)

  threads.map_on_cores(fill, range(0, length, ROW_BLOCK_PIXELS))
  return out


def _kernel_weights(features, rows, neighbours, chunk=16384):
  """(S, K) kernel values k = max(0, 1 - ||X_a - X_b||_1 / d) between features[rows[s]] and
  features[neighbours[s]] (Eq. 2), d = features.shape[1].

  Gathers whole feature rows (one cache line per neighbour instead of one per column: 2-5x
  faster at 3 MP) in chunks of `chunk` rows that keep the (chunk, K, d) block in cache, sums
  the columns in order, as a column-by-column loop would, and turns the distances into the
  kernel in place (bit-identical to the whole-array expression). The chunks run on one
  thread per core (NumPy's gathers and sums release the GIL: 1.3-2x on 2 cores).
  """
  weights = np.empty(neighbours.shape)
  dim = features.shape[1]

  def fill(start):
    block = features[neighbours[start:start + chunk]]
    block -= features[rows[start:start + chunk], None, :]
    np.abs(block, out=block)
    out = weights[start:start + chunk]
    np.add(block[..., 0], block[..., 1], out=out)
    for column in range(2, dim):
      out += block[..., column]
    np.divide(out, dim, out=out)
    np.subtract(1.0, out, out=out)
    np.maximum(out, 0.0, out=out)

  threads.map_on_cores(fill, range(0, len(rows), chunk))
  return weights


def _neighbour_matrix(search, neighbours, values, diagonal=None):
  """(N, N) CSR: row i holds diagonal[i] at i (if given), then values[s] at neighbours[s]
  when i is the s-th searched pixel; written straight into CSR arrays, no COO sort."""
  num_points, per_row = len(search), neighbours.shape[1]
  first = 0 if diagonal is None else 1
  indptr = np.zeros(num_points + 1, dtype=np.int64)
  np.cumsum(first + per_row * search, out=indptr[1:])
  indices = np.empty(indptr[-1], dtype=np.int64)
  data = np.empty(indptr[-1])
  if diagonal is not None:
    indices[indptr[:-1]] = np.arange(num_points)
    data[indptr[:-1]] = diagonal
  slots = indptr[:-1][search, None] + first + np.arange(per_row)
  indices[slots] = neighbours
  data[slots] = values
  return sp.csr_matrix((data, indices, indptr), shape=(num_points, num_points))


def knn_affinity(features, n_neighbors=(10, 2), spatial_decay=SPATIAL_DECAY, search=None,
                 search_eps=SEARCH_EPS):
  """Sparse (N, N) nonlocal affinity A = W + W^T (Sec. 3, Eq. 2) as CSR float64.

  Pass p = 0, 1, ... finds the n_neighbors[p] nearest neighbours (L2, self excluded) of each
  searched pixel with the spatial columns (the last two) of `features` multiplied by
  spatial_decay**p: the MATLAB defaults (10, 2) and 0.01 give 10 neighbours with spatial
  coherence, then 2 with almost none. W_ij = k(i, j) = max(0, 1 - ||X_i - X_j||_1 / d),
  d = feature dimension, for each j found from i; a pair found twice (in both passes, or
  from both ends) counts twice, as MATLAB's sparse() sums duplicates.

  Reconstructed from knn_matting.m: it divides the coordinates by 100 after every pass, the
  last included, so its kernel sees them scaled by spatial_decay**len(n_neighbors) (1e-4),
  in effect a colour-only kernel; so does this one. Its vl_kdtree returns each pixel as its
  own first neighbour (a self-loop, which cancels in L = D - A) and is approximate
  (MAXNUMCOMPARISONS = 3K); here the search excludes self, so a pixel gets K other
  neighbours per pass, each within (1 + search_eps) of the true one of its rank. MATLAB's
  1e-6 coordinate jitter (a tie breaker) is left out to keep the function deterministic.

  Args:
    features: (N, d) float features, the two spatial coordinates last (`knn_features`).
    n_neighbors: neighbours per pass.
    spatial_decay: factor applied to the spatial columns after each pass.
    search: optional (N,) bool, the pixels whose neighbours are searched (default all);
      rows of W for the others are empty (see `knn_alpha`'s search_margin).
    search_eps: tolerance of the neighbour search, 0 for the exact one (`knn_alpha`).
  """
  neighbours, weights, search, _ = _neighbour_weights(features, n_neighbors, spatial_decay,
                                                      search, search_eps=search_eps)
  W = _neighbour_matrix(search, neighbours, weights)
  return (W + W.T).tocsr()


def knn_laplacian(image, n_neighbors=(10, 2), level=1.0, color_space="hsv",
                  spatial_decay=SPATIAL_DECAY, search=None, search_eps=SEARCH_EPS):
  """KNN matting Laplacian L = D - A (Eq. 8), D = diag(row sums of A), as (N, N) CSR.

  L is symmetric positive semi-definite with rows summing to 0; see `knn_features` and
  `knn_affinity` for the arguments. It is assembled as B + B^T with B = D/2 - W, one sparse
  sum instead of the two of W + W^T and D - A; rows of pixels without any link stay empty,
  which solve_alpha's soft variant skips.
  """
  L, _ = _laplacian(knn_features(image, level, color_space), n_neighbors, spatial_decay,
                    search, relabel=False, search_eps=search_eps)
  return L


def _laplacian(features, n_neighbors, spatial_decay, search, relabel, search_eps=SEARCH_EPS):
  """(L, order): `knn_laplacian`'s matrix, over the pixels in `order` (None: all, in index
  order; else the pixels the graph links, `_neighbour_weights`)."""
  neighbours, weights, search, order = _neighbour_weights(features, n_neighbors,
                                                          spatial_decay, search, relabel,
                                                          search_eps)
  degree = np.bincount(neighbours.ravel(), weights.ravel(), len(search)).astype(np.float64)
  degree[search] += weights.sum(axis=1)
  B = _neighbour_matrix(search, neighbours, -weights, degree / 2)
  return (B + B.T).tocsr(), order


def search_region(unknown, margin):
  """(N,) bool: pixels within `margin` pixels (Euclidean) of the unknown region; all if None."""
  unknown = np.asarray(unknown, dtype=bool)
  if margin is None:
    return np.ones(unknown.size, dtype=bool)
  if not unknown.any():
    return np.zeros(unknown.size, dtype=bool)
  return (ndimage.distance_transform_edt(~unknown) <= margin).ravel()


def knn_bytes(trimap, search_margin=10, max_pixels=None):
  """Estimated peak memory of `knn_alpha` on this trimap: per pixel (features, KD-tree) and
  per searched pixel (neighbour lists, the Laplacian, CG vectors); fitted to peak RSS of
  benchmarks/scale.py runs. With max_pixels, that of the working-resolution solve."""
  trimap = np.asarray(trimap)
  if max_pixels is not None and trimap.size > max_pixels:
    factor = resolution.factor_for(trimap.size, max_pixels)
    trimap = trimap[::factor, ::factor]
  _, _, unknown = trimap_masks(trimap)
  return _search_bytes(search_region(unknown, search_margin))


def _search_bytes(search):
  """`knn_bytes` from the (N,) search mask."""
  return 150 * search.size + 600 * int(np.count_nonzero(search))


def _check_memory(shape, search):
  """Refuses, before any work, a solve whose estimate exceeds the memory available now."""
  from matting.memory import require
  require(_search_bytes(search), f"KNN matting of a {shape[1]}x{shape[0]} image",
          "downscale the image or free memory")


def knn_alpha(image, trimap, n_neighbors=(10, 2), level=1.0, lam=100.0, color_space="hsv",
              constraint="soft", preconditioner=None, search_margin=10, max_pixels=None,
              search_eps=SEARCH_EPS, rtol=RTOL):
  """KNN matte: float32 (H, W) in [0, 1] solving (L + lam*D_m) alpha = lam*m (Eq. 8).

  m is 1 on the trimap foreground, 0 elsewhere; D_m = diag(known). 'hard' instead fixes the
  known pixels and solves the unknown block (see sparse_solve.solve_alpha). Either way the
  returned known pixels equal the trimap.

  Neighbours are searched only for the pixels within `search_margin` pixels of the unknown
  region (None: all pixels, the MATLAB graph). The other pixels' alpha is fixed by the
  trimap; their own neighbour lists only add links between known pixels (no effect with
  'hard') and far-reaching colour matches into the unknown region. On the 22 alphamatting
  training images (Trimap1) a 10-pixel margin lowered the mean SAD from 5.76 to 5.51, and
  changed it by -11%..+2.4% per image over 24 image/trimap pairs, with a 3-6x faster
  neighbour search.

  Args:
    image: (H, W, 3) RGB in [0, 1].
    trimap: (H, W) in {0, 0.5, 1}, with at least one FG and one BG pixel.
    n_neighbors: neighbours per pass (`knn_affinity`).
    level: weight of the spatial coordinates (`knn_features`).
    lam: weight of the trimap constraint.
    color_space: 'hsv' (paper) or 'rgb' (knn_matting.m).
    constraint: 'soft' or 'hard'.
    preconditioner: name passed to solve_alpha; None keeps its default.
    search_margin: pixels, or None; see above.
    search_eps: tolerance of the neighbour search: each neighbour returned is at most
      (1 + search_eps) times farther than the true one of its rank (0: exact). The authors'
      code searches approximately too (vl_kdtree, at most 3K comparisons). With the default
      0.5 both passes on GT26 took 0.56x the time of SciPy's exact cKDTree search (exact
      pykdtree: 0.71x); the mean SAD over the 22 alphamatting training images x 2 trimaps
      went from 5.5123 / 6.7498 to 5.5121 / 6.7467, the shipped DCNN's from 2.8636 / 3.7794
      to 2.8635 / 3.7786 (largest per-image change 0.30 %; `benchmarks/knn_search.py --eps
      0,0.25,0.5,1 --sad`).
    max_pixels: None (the paper), or solve images larger than this at a working resolution
      of at most max_pixels (block-averaged image, unknown band grown to whole blocks; the
      margin counts working pixels) and read alpha back bilinearly into the unknown region
      (classic/resolution.py); full resolution when the blocks leave no FG or no BG.
    rtol: CG stops when the residual is below rtol times the right-hand side's. The default
      1e-6 (pymatting's 1e-7 before) takes fewer iterations (GT26 Trimap1: 51 vs 81;
      upscaled 2x: 50 vs 58, a small gain at 0.5 MP and none measurable at 2 MP); over the
      22 alphamatting training images x 2 trimaps the mean KNN SAD moved by < 0.001 % and
      the shipped DCNN's by at most 0.019 % per image
      (`benchmarks/knn_search.py --eps 0.5 --sad --rtol 1e-7,1e-6,1e-5`).
  """
  image, trimap = check_image_and_trimap(image, trimap)
  if search_margin is not None:
    check_range("search_margin", search_margin, low=0)
  check_range("search_eps", search_eps, low=0)
  check_range("rtol", rtol, low=0, high=1, low_open=True, high_open=True)
  check_range("lam", lam, low=0, low_open=True)
  check_range("level", level, low=0)
  low = resolution.at_working_resolution(
      lambda small_image, small_trimap: knn_alpha(small_image, small_trimap, n_neighbors, level,
                                                  lam, color_space, constraint, preconditioner,
                                                  search_margin, search_eps=search_eps,
                                                  rtol=rtol),
      image, trimap, max_pixels)
  if low is not None:
    return low
  fg, bg, unknown = trimap_masks(trimap)
  search = search_region(unknown, search_margin)
  _check_memory(trimap.shape, search)
  # The system is built over the pixels the graph links, in feature order
  # (`_neighbour_weights`): the same equations in another order, CG's products reading memory
  # almost in sequence. The pixels left out are known (the search covers the unknown region).
  L, order = _laplacian(knn_features(image, level, color_space), n_neighbors, SPATIAL_DECAY,
                        search, relabel=True, search_eps=search_eps)
  options = {} if preconditioner is None else {"preconditioner": preconditioner}
  solved = sparse_solve.solve_alpha(L, (fg | bg).ravel()[order], fg.ravel()[order], lam=lam,
                                    constraint=constraint, rtol=rtol, **options)
  alpha = fg.ravel().astype(np.float64)
  alpha[order] = solved
  # The soft penalty moves known pixels by up to d_i / (d_i + lam) (d_i: degree, ~25); the
  # trimap defines them, so they are returned at their trimap value.
  alpha = np.clip(alpha, 0.0, 1.0).reshape(trimap.shape)
  return np.where(unknown, alpha, fg).astype(np.float32)


def knn_rgb_alpha(image, trimap, **params):
  """`knn_alpha` with knn_matting.m's RGB features (r, g, b, x, y) instead of the paper's HSV
  ones: a classic method of its own ('knn_rgb'), so that a network input, its cache entries
  and a weights file's combination name say which KNN matte they hold. On the 22 alphamatting
  training images (Trimap1) its mean SAD is 4.84 against HSV's 5.51 (see BUILD_NOTES.md)."""
  if "color_space" in params:
    raise MattingInputError("color_space: knn_rgb_alpha is the 'rgb' KNN matte; use knn_alpha")
  return knn_alpha(image, trimap, color_space="rgb", **params)
