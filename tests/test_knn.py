"""Tests of KNN matting: features, the nonlocal affinity, its Laplacian and the matte."""

import colorsys

import numpy as np
import pytest
import scipy.sparse as sp

from matting.classic import knn
from matting.errors import MattingInputError


def random_example(seed, height=24, width=32):
  """A uniformly random image with a random {0, 0.5, 1} trimap (FG and BG both present)."""
  rng = np.random.default_rng(seed)
  image = rng.random((height, width, 3)).astype(np.float32)
  trimap = rng.choice(np.array([0.0, 0.5, 1.0], np.float32), size=(height, width))
  trimap[0, 0], trimap[-1, -1] = 0.0, 1.0
  return image, trimap


def hard_segmentation_example(height=40, width=50, band=3, seed=0):
  """A noisy red disc on a blue background, its binary GT and a trimap with an unknown band."""
  rng = np.random.default_rng(seed)
  y, x = np.mgrid[:height, :width]
  radius = np.hypot(y - height / 2, x - width / 2)
  gt = (radius < min(height, width) / 3).astype(np.float32)
  colours = np.where(gt[..., None] > 0, [0.9, 0.2, 0.1], [0.1, 0.3, 0.9])
  image = np.clip(colours + 0.03 * rng.standard_normal((height, width, 3)), 0, 1)
  trimap = gt.copy()
  trimap[np.abs(radius - min(height, width) / 3) < band] = 0.5
  return image.astype(np.float32), trimap, gt


def brute_force_affinity(features, n_neighbors, spatial_decay, search):
  """A = W + W^T from an exhaustive neighbour search (the definition in knn_affinity)."""
  features = features.copy()
  num_points, dim = features.shape
  W = np.zeros((num_points, num_points))
  found = []
  for k in n_neighbors:
    distance = np.linalg.norm(features[:, None] - features[None], axis=-1)
    np.fill_diagonal(distance, np.inf)
    found.append(np.argsort(distance, axis=1)[:, :k])
    features[:, -2:] *= spatial_decay
  for neighbours in found:
    for i in np.flatnonzero(search):
      weights = 1.0 - np.abs(features[i] - features[neighbours[i]]).sum(axis=1) / dim
      W[i, neighbours[i]] += np.maximum(weights, 0.0)
  return W + W.T


def test_rgb_to_hsv_matches_colorsys():
  colours = np.random.default_rng(0).random((50, 3))
  colours[:5] = [[0.3, 0.3, 0.3], [0, 0, 0], [1, 0, 0], [1, 0, 1], [0, 1, 0]]
  expected = np.array([colorsys.rgb_to_hsv(*c) for c in colours])
  np.testing.assert_allclose(knn.rgb_to_hsv(colours), expected, atol=1e-12)


def test_features_hsv_and_rgb_layout():
  height, width, level = 6, 8, 2.5
  image = np.random.default_rng(1).random((height, width, 3))
  hsv = knn.knn_features(image, level=level)
  rgb = knn.knn_features(image, level=level, color_space="rgb")
  assert hsv.shape == (height * width, 6) and rgb.shape == (height * width, 5)
  np.testing.assert_allclose(hsv[:, 0] ** 2 + hsv[:, 1] ** 2, 1.0)
  assert np.all((hsv[:, 2:4] >= 0) & (hsv[:, 2:4] <= 1))
  np.testing.assert_allclose(rgb[:, :3], image.reshape(-1, 3))
  row, col = 4, 5  # Row-major: pixel (row, col) is feature row * width + col.
  expected_xy = np.array([col, row]) * level / np.hypot(height, width)
  for features in (hsv, rgb):
    np.testing.assert_allclose(features[row * width + col, -2:], expected_xy)
  np.testing.assert_allclose(hsv[row * width + col, 3], image[row, col].max())


@pytest.mark.parametrize("search_fraction", [1.0, 0.3])
def test_affinity_matches_brute_force(search_fraction):
  rng = np.random.default_rng(2)
  features = rng.random((120, 5))
  search = rng.random(120) < search_fraction
  A = knn.knn_affinity(features, n_neighbors=(6, 2), spatial_decay=0.1, search=search,
                       search_eps=0.0)  # The exact search: what the brute force does.
  expected = brute_force_affinity(features, (6, 2), 0.1, search)
  np.testing.assert_allclose(A.toarray(), expected, atol=1e-12)


def test_affinity_symmetric_nonnegative_with_k_neighbours():
  features = knn.knn_features(random_example(3)[0])
  A = knn.knn_affinity(features)
  assert isinstance(A, sp.csr_matrix)
  assert abs(A - A.T).max() == 0
  assert A.data.min() >= 0
  A.eliminate_zeros()
  assert A.diagonal().max() == 0
  assert np.all(A.getnnz(axis=1) >= 10)


@pytest.mark.parametrize("color_space", ["hsv", "rgb"])
def test_laplacian_is_d_minus_a(color_space):
  image = random_example(4)[0]
  L = knn.knn_laplacian(image, color_space=color_space)
  A = knn.knn_affinity(knn.knn_features(image, color_space=color_space))
  expected = sp.diags(np.asarray(A.sum(axis=1)).ravel()) - A
  assert abs(L - expected).max() < 1e-12
  np.testing.assert_allclose(np.asarray(L.sum(axis=1)).ravel(), 0.0, atol=1e-12)
  assert abs(L - L.T).max() < 1e-12
  x = np.random.default_rng(5).standard_normal((L.shape[0], 4))
  assert np.all(np.einsum("ij,ij->j", x, L @ x) >= 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_alpha_range_and_known_pixels(seed):
  image, trimap = random_example(seed)
  known = trimap != 0.5
  hard = knn.knn_alpha(image, trimap, constraint="hard")
  assert hard.dtype == np.float32 and hard.shape == trimap.shape
  assert np.abs(hard - trimap)[known].max() < 1e-2
  # Soft (Eq. 8): (d_i + lam) alpha_i = lam m_i + sum_j A_ij alpha_j with alpha_j in [0, 1],
  # so a known pixel may move by at most d_i / (d_i + lam).
  lam = 100.0
  soft = knn.knn_alpha(image, trimap, lam=lam)
  assert soft.min() >= 0 and soft.max() <= 1
  degree = knn.knn_laplacian(image, search=knn.search_region(~known, 10)).diagonal()
  bound = (degree / (degree + lam)).reshape(trimap.shape)
  assert np.all((np.abs(soft - trimap) <= bound + 1e-4)[known])


@pytest.mark.parametrize("color_space", ["hsv", "rgb"])
@pytest.mark.parametrize("search_margin", [10, None])
def test_recovers_two_colour_segmentation(color_space, search_margin):
  image, trimap, gt = hard_segmentation_example()
  alpha = knn.knn_alpha(image, trimap, color_space=color_space, search_margin=search_margin)
  unknown = trimap == 0.5
  assert np.abs(alpha - gt)[unknown].mean() < 0.05
  assert np.mean((alpha > 0.5) == (gt > 0.5)) == 1.0


def test_knn_rgb_is_its_own_method_with_rgb_features():
  """'knn_rgb' (classic method and cache entry of its own) is knn_alpha's RGB matte."""
  from matting import classic
  from matting.classic import cache
  image, trimap, _ = hard_segmentation_example()
  want = knn.knn_alpha(image, trimap, color_space="rgb")
  np.testing.assert_array_equal(classic.classic_alpha("knn_rgb", image, trimap), want)
  assert not np.array_equal(want, knn.knn_alpha(image, trimap))  # HSV differs here.
  with pytest.raises(MattingInputError, match="color_space"):
    knn.knn_rgb_alpha(image, trimap, color_space="hsv")
  assert cache.cache_key(image, trimap, "knn_rgb") != cache.cache_key(image, trimap, "knn")


@pytest.mark.parametrize("kwargs, match", [
    (dict(image=np.zeros((8, 8))), "image"),
    (dict(image=np.full((8, 8, 3), np.nan)), "NaN"),
    (dict(trimap=np.full((8, 9), 0.5)), "trimap"),
    (dict(trimap=np.zeros((8, 8))), "foreground"),
    (dict(color_space="lab"), "color_space"),
    (dict(n_neighbors=(64, 2)), "n_neighbors"),
    (dict(n_neighbors=(0,)), "n_neighbors"),
    (dict(search_margin=-1), "search_margin"),
    (dict(search_eps=-0.5), "search_eps"),
    (dict(search_eps=float("nan")), "search_eps"),
    (dict(rtol=0.0), "rtol"),
    (dict(rtol=float("nan")), "rtol"),
    (dict(lam=0.0), "lam"),
    (dict(level=-1.0), "level"),
    (dict(constraint="firm"), "constraint"),
])
def test_bad_inputs_raise(kwargs, match):
  image, trimap = random_example(0, height=8, width=8)
  args = dict(image=image, trimap=trimap) | kwargs
  with pytest.raises(MattingInputError, match=match):
    knn.knn_alpha(args.pop("image"), args.pop("trimap"), **args)


@pytest.mark.parametrize("constraint", ["soft", "hard"])
def test_feature_ordered_solve_equals_the_index_ordered_one(constraint):
  """knn_alpha builds its system over the pixels in KD-tree leaf order; solving knn_laplacian
  (index order) with the same constraints must give the same matte."""
  from matting.classic import sparse_solve
  image, trimap, _ = hard_segmentation_example(height=60, width=70, band=6, seed=3)
  fg, unknown = trimap == 1.0, trimap == 0.5
  L = knn.knn_laplacian(image, search=knn.search_region(unknown, 10))
  plain = sparse_solve.solve_alpha(L, (~unknown).ravel(), fg.ravel(), constraint=constraint)
  plain = np.where(unknown, np.clip(plain.reshape(trimap.shape), 0, 1), fg)
  _, order = knn._laplacian(knn.knn_features(image), (10, 2), knn.SPATIAL_DECAY,
                            knn.search_region(unknown, 10), relabel=True)
  assert not np.array_equal(order, np.arange(trimap.size))  # It is another order.
  np.testing.assert_allclose(knn.knn_alpha(image, trimap, constraint=constraint), plain,
                             atol=1e-5)


def test_kernel_weights_in_chunks_equal_the_definition():
  """The chunked row gathers give exactly max(0, 1 - sum_c |X_i,c - X_j,c| / d), whatever
  the chunk size, negative kernels clipped to 0."""
  rng = np.random.default_rng(5)
  features = rng.random((200, 6)) * 2.0  # Some pairs farther apart than d in L1.
  rows = np.sort(rng.choice(200, 50, replace=False))
  neighbours = rng.integers(0, 200, (50, 12))
  expected = np.maximum(
      1.0 - np.abs(features[rows, None, :] - features[neighbours]).sum(axis=-1) / 6, 0.0)
  assert (expected == 0).any() and (expected > 0).any()
  for chunk in (1, 7, 50, 1000):
    np.testing.assert_allclose(knn._kernel_weights(features, rows, neighbours, chunk),
                               expected, rtol=0, atol=1e-15)


def test_per_pixel_passes_on_threads_are_those_of_one(monkeypatch):
  """The kernel weights, the features and the relabelling gathers computed on several
  threads give the one-thread results bit for bit."""
  rng = np.random.default_rng(6)
  features = rng.random((500, 6))
  rows = np.sort(rng.choice(500, 300, replace=False))
  neighbours = rng.integers(0, 500, (300, 12))
  image = rng.random((70, 40, 3))
  monkeypatch.setattr(knn, "ROW_BLOCK_PIXELS", 256)  # Several blocks on this small image.
  results = {}
  for cores in (1, 3):
    monkeypatch.setattr(knn.threads, "usable_cores", lambda: cores)
    results[cores] = (knn._kernel_weights(features, rows, neighbours, chunk=16),
                      knn.knn_features(image), knn.knn_features(image, color_space="rgb"),
                      knn._gathered(lambda part: features[rows[part]] * 2, 300, (6,), float))
  for threaded, single in zip(results[3], results[1]):
    np.testing.assert_array_equal(threaded, single)
  np.testing.assert_array_equal(results[1][3], features[rows] * 2)


@pytest.mark.parametrize("self_at", ["first", "middle", "absent"])
def test_without_self_drops_the_point_itself_or_the_farthest(self_at):
  """Each row keeps its k other matches in the order found: the point itself is dropped
  wherever it sits, the farthest (last) match when ties crowded it out of the list."""
  queries = np.array([4, 9, 2])  # Points of a 12-point set, asked in this order.
  query = np.zeros(12, bool)
  query[queries] = True
  others = np.array([[7, 1, 3], [0, 5, 6], [8, 11, 10]])
  if self_at == "first":
    found = np.concatenate([queries[:, None], others], axis=1)
  elif self_at == "middle":
    found = np.concatenate([others[:, :1], queries[:, None], others[:, 1:]], axis=1)
  else:
    found = np.concatenate([others, [[5], [3], [1]]], axis=1)
  found[1] = [9, 0, 5, 6] if self_at != "absent" else found[1]  # One row of each kind mixed.
  neighbours = knn.without_self(found.astype(np.int64), queries, query)
  expected = {4: others[0], 9: others[1], 2: others[2]}
  for row, point in enumerate(np.flatnonzero(query)):  # Rows in index order: 2, 4, 9.
    np.testing.assert_array_equal(neighbours[row], expected[point])


def test_neighbour_search_is_exact_with_ties_and_a_given_order():
  """On a grid of identical colours (every pixel has tied neighbours) each row holds k other
  pixels at the true k-th nearest distance or closer, with or without a given query order."""
  features = knn.knn_features(np.full((9, 11, 3), 0.5))
  query = np.ones(len(features), bool)
  distance = np.linalg.norm(features[:, None] - features[None], axis=-1)
  np.fill_diagonal(distance, np.inf)
  kth = np.sort(distance, axis=1)[:, 4]
  for order in (None, np.random.default_rng(0).permutation(len(features))):
    neighbours, used = knn._nearest_neighbours(features, 5, query, order)
    assert sorted(used) == list(range(len(features)))
    assert np.all(neighbours != np.arange(len(features))[:, None])
    found = np.take_along_axis(distance, neighbours, axis=1)
    assert np.all(found <= kth[:, None] * (1 + 1e-12))


def test_approximate_search_stays_within_its_tolerance():
  """search_eps > 0: every row still holds k distinct other pixels, and its i-th nearest is
  at most (1 + eps) times the true i-th nearest distance."""
  rng = np.random.default_rng(7)
  features = knn.knn_features(rng.random((20, 25, 3)))
  query = rng.random(len(features)) < 0.5
  distance = np.linalg.norm(features[:, None] - features[None], axis=-1)
  np.fill_diagonal(distance, np.inf)
  true = np.sort(distance[query], axis=1)[:, :6]
  neighbours, _ = knn._nearest_neighbours(features, 6, query, eps=0.5)
  found = np.sort(np.take_along_axis(distance[query], neighbours, axis=1), axis=1)
  assert np.all(np.isfinite(found))  # Never the pixel itself.
  assert all(len(set(row)) == 6 for row in neighbours)
  assert np.all(found <= true * 1.5 * (1 + 1e-12))


def test_feature_order_numbers_only_the_pixels_the_graph_links():
  """With a search region, the relabelled system leaves out the pixels no searched pixel
  links to (their rows would be empty); those are known, and knn_alpha returns them as such."""
  image, trimap, _ = hard_segmentation_example(height=60, width=70, band=6, seed=3)
  unknown = trimap == 0.5
  search = knn.search_region(unknown, 2)
  L, order = knn._laplacian(knn.knn_features(image), (10, 2), knn.SPATIAL_DECAY, search,
                            relabel=True)
  assert search.sum() <= len(order) < trimap.size
  assert L.shape == (len(order), len(order)) and np.all(np.diff(L.indptr) > 0)
  assert np.all(~unknown.ravel()[np.setdiff1d(np.arange(trimap.size), order)])
  alpha = knn.knn_alpha(image, trimap, search_margin=2)
  np.testing.assert_array_equal(alpha[~unknown], trimap[~unknown])


def test_a_solve_beyond_the_memory_available_is_refused_before_any_work(monkeypatch):
  """knn_alpha compares knn_bytes' estimate with the memory available now: one byte short
  of it is a one-line MattingInputError naming the image size; the estimate itself runs."""
  from matting import memory
  image, trimap, _ = hard_segmentation_example()
  need = knn.knn_bytes(trimap)
  monkeypatch.setattr(memory, "available_bytes", lambda: need - 1)
  with pytest.raises(MattingInputError, match=r"KNN matting of a 50x40 image needs about"):
    knn.knn_alpha(image, trimap)
  monkeypatch.setattr(memory, "available_bytes", lambda: need)
  assert knn.knn_alpha(image, trimap).shape == trimap.shape


def test_the_graph_is_the_same_on_one_core_and_on_several(monkeypatch):
  """The KD-trees built side by side, the distances in threads: the same neighbours and
  weights as everything one after the other."""
  image, trimap, _ = hard_segmentation_example(height=50, width=60, band=5, seed=2)
  features = knn.knn_features(image)
  search = knn.search_region(trimap == 0.5, 10)
  graphs = {}
  for cores in (1, 3):
    monkeypatch.setattr(knn.threads, "usable_cores", lambda: cores)
    graphs[cores] = knn._neighbour_weights(features, (10, 2), knn.SPATIAL_DECAY, search,
                                           relabel=True)
  for one, several in zip(graphs[1], graphs[3]):
    np.testing.assert_array_equal(one, several)


@pytest.mark.parametrize("n_neighbors", [(4,), (4, 2), (4, 2, 1)])
def test_the_graph_leaves_the_callers_features_as_they_were(n_neighbors):
  features = knn.knn_features(np.random.default_rng(3).random((12, 14, 3)))
  before = features.copy()
  knn._neighbour_weights(features, n_neighbors, knn.SPATIAL_DECAY, None)
  np.testing.assert_array_equal(features, before)
