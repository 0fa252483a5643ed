"""Tests for matting.comprehensive: sampling regions, candidates, pair selection, smoothing."""

import numpy as np

from matting import classic
from matting.classic import comprehensive
from matting.classic.closed_form import closed_form_laplacian
from matting.data.trimap import trimap_masks
from tests.conftest import two_colour_example


def _unknown_error(alpha, gt, trimap):
  unknown = trimap_masks(trimap)[2]
  return np.abs(alpha[unknown] - gt[unknown]).mean()


def test_recovers_a_two_colour_blend():
  image, trimap, gt = two_colour_example(48, 64)
  alpha = comprehensive.comprehensive_alpha(image, trimap, seed=0)
  assert alpha.dtype == np.float32 and alpha.shape == trimap.shape
  assert _unknown_error(alpha, gt, trimap) < 0.05


def test_sampled_alpha_before_smoothing_recovers_the_blend():
  image, trimap, gt = two_colour_example(48, 64)
  alpha_hat, distortion = comprehensive.sampled_alpha(image, trimap, seed=0)
  assert _unknown_error(alpha_hat, gt, trimap) < 0.05
  # The colours are noisy blends of the two cluster means: small but non-zero misfit.
  assert 0 < np.median(distortion[trimap_masks(trimap)[2]]) < 0.1


def test_alpha_in_unit_interval_and_known_pixels_kept():
  rng = np.random.default_rng(3)
  image = rng.random((30, 40, 3)).astype(np.float32)  # No colour model fits: stresses clipping.
  trimap = np.full((30, 40), 0.5, np.float32)
  trimap[:, :8] = 0.0
  trimap[:, -8:] = 1.0
  trimap[:5, 15:20] = 1.0
  alpha = comprehensive.comprehensive_alpha(image, trimap, seed=1)
  assert alpha.min() >= 0.0 and alpha.max() <= 1.0
  fg, bg, _ = trimap_masks(trimap)
  np.testing.assert_array_equal(alpha[fg], 1.0)
  np.testing.assert_array_equal(alpha[bg], 0.0)


def test_deterministic_given_the_seed():
  image, trimap, _ = two_colour_example(40, 50, seed=5)
  first = comprehensive.comprehensive_alpha(image, trimap, seed=7)
  np.testing.assert_array_equal(first, comprehensive.comprehensive_alpha(image, trimap, seed=7))


def test_comp_sampled_is_the_sampled_alpha_clipped():
  """Classic method 'comp_sampled': stages 1-3 without the Laplacian smoothing."""
  image, trimap, _ = two_colour_example(40, 50, seed=3)
  alpha_hat, _ = comprehensive.sampled_alpha(image, trimap, seed=2)
  sampled = classic.classic_alpha("comp_sampled", image, trimap, seed=2)
  assert sampled.dtype == np.float32
  np.testing.assert_array_equal(sampled, np.clip(alpha_hat, 0, 1).astype(np.float32))
  smoothed = comprehensive.comprehensive_alpha(image, trimap, seed=2)
  assert not np.array_equal(sampled, smoothed)


def test_confidence_is_the_smoothing_weight_of_the_same_samples():
  image, trimap, _ = two_colour_example(40, 50, seed=3)
  _, distortion = comprehensive.sampled_alpha(image, trimap, seed=2)
  confidence = classic.classic_alpha("comp_confidence", image, trimap, seed=2)
  assert confidence.dtype == np.float32
  np.testing.assert_allclose(confidence, np.exp(-(distortion / 0.03) ** 2), rtol=1e-6)
  np.testing.assert_array_equal(confidence[trimap != 0.5], 1.0)
  # Noisy blends of two clusters: most samples fit, not all perfectly.
  unknown = confidence[trimap == 0.5]
  assert 0.5 < np.median(unknown) < 1.0


def test_chunks_and_threads_do_not_change_the_pairs(monkeypatch):
  """best_pairs and _nearest_candidates score pixels in chunks on one thread per core: the
  chunk size and the thread count must not change a single pair."""
  rng = np.random.default_rng(4)
  n = 500
  colours, positions = rng.random((n, 3)), rng.random((n, 2)) * 60
  dist_fg, dist_bg = rng.uniform(1, 10, n), rng.uniform(1, 10, n)

  def samples(k, clusters):
    return {"colour": rng.random((k, 3)), "colour_var": rng.uniform(1e-4, 1e-2, k),
            "position": rng.random((k, 2)) * 60, "spread": rng.uniform(0.5, 3, k),
            "colour_cluster": np.sort(np.arange(k) % clusters)}

  fg, bg = samples(40, 6), samples(30, 5)
  args = (colours, positions, dist_fg, dist_bg, fg, bg, 0.01, 1.0, 20.0)
  monkeypatch.setattr(comprehensive.threads, "usable_cores", lambda: 1)
  reference = comprehensive.best_pairs(*args)
  nearest = comprehensive._nearest_candidates(positions, dist_fg, fg, 1.0)
  monkeypatch.setattr(comprehensive.threads, "usable_cores", lambda: 2)
  for chunk_pairs in (30, 1 << 18):
    for got, want in zip(comprehensive.best_pairs(*args, chunk_pairs=chunk_pairs), reference):
      np.testing.assert_array_equal(got, want)
  for got, want in zip(comprehensive._nearest_candidates(positions, dist_fg, fg, 1.0, chunk=7),
                       nearest):
    np.testing.assert_array_equal(got, want)


def test_pixel_blocks_do_not_change_the_sampled_alpha(monkeypatch):
  image, trimap, _ = two_colour_example(40, 50, seed=6)
  whole = comprehensive.sampled_alpha(image, trimap, seed=1)
  monkeypatch.setattr(comprehensive, "PIXEL_BLOCK", 37)
  for got, want in zip(comprehensive.sampled_alpha(image, trimap, seed=1), whole):
    np.testing.assert_array_equal(got, want)


def test_sampling_regions_grow_with_distance():
  trimap = np.zeros((40, 100), np.float32)
  trimap[:, 35:] = 1.0
  trimap[:, 10:35] = 0.5  # Unknown columns 10..34: distance to FG 1..25.
  fg, _, unknown = trimap_masks(trimap)
  band, distance, regions = comprehensive.sampling_regions(fg, unknown, num_bands=3, min_width=2)
  np.testing.assert_array_equal(distance, (35 - np.nonzero(unknown)[1]).astype(float))
  # Bands are ordered by distance, and farther bands sample a wider FG strip.
  assert np.all(np.diff(band[np.argsort(distance, kind="stable")]) >= 0)
  assert set(band) == {0, 1, 2}
  sizes = [region.sum() for region in regions]
  assert sizes[0] < sizes[1] < sizes[2]
  for inner, outer in zip(regions, regions[1:]):
    assert np.all(outer[inner]) and not np.any(inner & ~fg)
  # Band j samples a strip at least min_width + (its farthest distance) deep.
  for j, region in enumerate(regions):
    columns = np.nonzero(region.any(axis=0))[0]
    assert columns.min() == 35 and len(columns) >= 2 + distance[band == j].max()


def test_candidates_represent_a_rare_colour():
  rng = np.random.default_rng(0)
  colours = np.tile([0.8, 0.1, 0.1], (1000, 1)) + 0.01 * rng.standard_normal((1000, 3))
  colours[::50] = [0.1, 0.7, 0.2]  # 2% of the region.
  positions = np.stack(np.divmod(np.arange(1000), 40), axis=1)
  samples = comprehensive.candidate_samples(colours, positions, num_colour_clusters=4,
                                            num_spatial_clusters=3, rng=rng)
  gap = np.abs(samples["colour"] - [0.1, 0.7, 0.2]).max(axis=1)
  assert gap.min() < 1e-6
  rare = np.argmin(gap)
  assert samples["colour_var"][rare] < 1e-12
  # The spatial sub-clusters of every colour cluster sit at different places.
  assert len(samples["colour"]) > samples["colour_cluster"].max() + 1
  for c in np.unique(samples["colour_cluster"]):
    places = samples["position"][samples["colour_cluster"] == c]
    gaps = np.linalg.norm(places[:, None] - places[None], axis=-1)
    assert np.all(gaps[~np.eye(len(places), dtype=bool)] > 1.0)


def test_best_pairs_finds_the_true_pair_among_decoys():
  rng = np.random.default_rng(1)
  true_f, true_b = np.array([0.9, 0.8, 0.1]), np.array([0.1, 0.2, 0.7])
  alpha = rng.uniform(0.1, 0.9, 200)  # Away from 0/1, where any F (or B) fits.
  colours = alpha[:, None] * true_f + (1 - alpha[:, None]) * true_b
  positions = rng.random((200, 2)) * 20

  def samples(colour_list):
    n = len(colour_list)
    return {"colour": np.array(colour_list), "colour_var": np.full(n, 1e-4),
            "position": rng.random((n, 2)) * 20, "spread": np.ones(n),
            "colour_cluster": np.arange(n)}

  fg = samples([[0.5, 0.5, 0.5], true_f, [0.9, 0.1, 0.9]])
  bg = samples([[0.0, 0.0, 0.0], [0.3, 0.9, 0.3], true_b])
  found, distortion = comprehensive.best_pairs(
      colours, positions, np.full(200, 5.0), np.full(200, 5.0), fg, bg, noise=0.01,
      spatial_weight=0.1, overlap_weight=1.0, chunk_pairs=100)
  np.testing.assert_allclose(found, alpha, atol=1e-5)
  np.testing.assert_allclose(distortion, 0.0, atol=1e-5)


def test_smoothing_solves_the_confidence_weighted_system():
  image, trimap, gt = two_colour_example(16, 20, seed=2)
  rng = np.random.default_rng(0)
  alpha_hat = np.clip(gt + 0.1 * rng.standard_normal(gt.shape), 0, 1)
  confidence = rng.random(gt.shape)
  lam = 0.5
  smoothed = comprehensive.smooth_alpha(image, trimap, alpha_hat, confidence, lam=lam,
                                        rtol=1e-12)
  # Reference: (L_UU + lam C_UU) a_U = lam C_UU a_hat_U - L_UK a_K, by a direct solve.
  fg, _, unknown = trimap_masks(trimap)
  u, k = unknown.ravel(), ~unknown.ravel()
  L = closed_form_laplacian(image, known=~unknown).tocsr()
  c = lam * confidence.ravel()[u]
  A = L[u][:, u] + np.diag(c)
  b = c * alpha_hat.ravel()[u] - L[u][:, k] @ fg.ravel()[k].astype(float)
  expected = np.where(fg, 1.0, 0.0).ravel()
  expected[u] = np.linalg.solve(np.asarray(A), b)
  np.testing.assert_allclose(smoothed.ravel(), np.clip(expected, 0, 1), atol=1e-6)
  # Full confidence with a huge weight keeps the sampled alpha.
  kept = comprehensive.smooth_alpha(image, trimap, alpha_hat, np.ones_like(gt), lam=1e6)
  np.testing.assert_allclose(kept[unknown], alpha_hat[unknown], atol=1e-4)
