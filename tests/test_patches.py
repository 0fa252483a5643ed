"""Tests for matting.patches: centres, window extraction, features, clustering, balancing."""

import numpy as np
import pytest

from matting.data.trimap import trimap_masks
from matting.errors import MattingInputError
from matting.inputs import patches


def _trimap_with_band(height=60, width=70):
  """FG disc, BG outside, an unknown ring that touches the image border on the left."""
  y, x = np.mgrid[:height, :width]
  radius = np.hypot(y - height / 2, x - 10)
  trimap = np.full((height, width), 0.5, np.float32)
  trimap[radius < 12] = 1.0
  trimap[radius > 30] = 0.0
  return trimap


def test_constants_match_the_paper():
  assert (patches.PATCH_IN, patches.PATCH_OUT, patches.MARGIN) == (27, 15, 6)
  assert patches.PATCH_IN == patches.PATCH_OUT + 2 * patches.MARGIN


def test_centers_are_unknown_and_windows_fit():
  trimap = _trimap_with_band()
  centers = patches.patch_centers(trimap, np.random.default_rng(0))
  _, _, unknown = trimap_masks(trimap)
  assert centers.dtype == np.int64 and centers.shape[1] == 2 and len(centers) > 0
  assert unknown[centers[:, 0], centers[:, 1]].all()
  assert (centers >= 13).all()
  assert (centers[:, 0] <= 60 - 14).all() and (centers[:, 1] <= 70 - 14).all()
  # Every unknown pixel far enough from the border is a candidate (stride 1, no cap).
  inner = np.zeros_like(unknown)
  inner[13:-13, 13:-13] = True
  assert len(centers) == (unknown & inner).sum()


def test_centers_cap_stride_and_determinism():
  trimap = _trimap_with_band()
  a = patches.patch_centers(trimap, np.random.default_rng(3), max_per_image=25)
  b = patches.patch_centers(trimap, np.random.default_rng(3), max_per_image=25)
  assert len(a) == 25 and len(np.unique(a, axis=0)) == 25
  np.testing.assert_array_equal(a, b)
  strided = patches.patch_centers(trimap, np.random.default_rng(0), stride=4)
  assert np.all((strided - 13) % 4 == 0)


def test_extract_patches_matches_naive_slicing():
  rng = np.random.default_rng(1)
  stack = rng.random((40, 45, 5)).astype(np.float32)
  alpha = rng.random((40, 45)).astype(np.float32)
  centers = np.array([[13, 13], [26, 31], [20, 17], [40 - 14, 45 - 14]])
  inputs, targets = patches.extract_patches(stack, alpha, centers)
  assert inputs.shape == (4, 27, 27, 5) and inputs.dtype == np.float32
  assert targets.shape == (4, 15, 15) and targets.dtype == np.float32
  for (r, c), patch_in, patch_out in zip(centers, inputs, targets):
    np.testing.assert_array_equal(patch_in, stack[r - 13:r + 14, c - 13:c + 14])
    np.testing.assert_array_equal(patch_out, alpha[r - 7:r + 8, c - 7:c + 8])
  # The target is the centre of the input window (6 pixels lost on each side).
  inputs_alpha, _ = patches.extract_patches(alpha[..., None], alpha, centers)
  np.testing.assert_array_equal(inputs_alpha[:, 6:21, 6:21, 0], targets)
  half, _ = patches.extract_patches(stack, alpha, centers, dtype=np.float16)
  assert half.dtype == np.float16
  np.testing.assert_allclose(half, inputs, atol=1e-3)


def test_extract_patches_rejects_centres_near_the_border():
  stack = np.zeros((30, 30, 3), np.float32)
  with pytest.raises(MattingInputError, match="closer than 13"):
    patches.extract_patches(stack, stack[..., 0], np.array([[12, 15]]))
  with pytest.raises(MattingInputError, match="closer than 13"):
    patches.extract_patches(stack, stack[..., 0], np.array([[15, 17]]))


def test_patch_features_by_hand():
  ones = np.ones((15, 15), np.float32)
  step = np.zeros((15, 15), np.float32)
  step[:, 8:] = 1.0  # vertical edge between columns 7 and 8
  ramp = np.tile(np.linspace(0, 1, 15, dtype=np.float32), (15, 1))
  noise = np.full((15, 15), 0.4 / 255, np.float32)  # below half an 8-bit level: zero
  features = patches.patch_features(np.stack([ones, step, ramp, noise]))
  assert features.dtype == np.int64
  # ones: 225 alpha>0 and flat. step: 7 columns of 15 are >0; the central difference marks
  # columns 7 and 8 (2 x 15). ramp: 14 columns >0, every pixel has a gradient.
  np.testing.assert_array_equal(features, [[225, 0], [105, 30], [210, 225], [0, 0]])


def test_cluster_patches_deterministic_and_uses_all_clusters():
  rng = np.random.default_rng(0)
  features = np.stack([rng.integers(0, 226, 2000), rng.integers(0, 226, 2000)], axis=1)
  a = patches.cluster_patches(features, num_clusters=20, seed=5)
  b = patches.cluster_patches(features, num_clusters=20, seed=5)
  np.testing.assert_array_equal(a, b)
  assert a.shape == (2000,) and a.dtype == np.int64
  assert set(a.tolist()) == set(range(20))
  # Labels follow the centroid's first feature: label 0 has the fewest alpha>0 pixels.
  means = [features[a == k, 0].mean() for k in range(20)]
  assert means[0] == min(means)


def test_cluster_patches_with_few_distinct_points():
  features = np.array([[0, 0]] * 10 + [[225, 0]] * 5 + [[50, 100]] * 3)
  labels = patches.cluster_patches(features, num_clusters=20, seed=0)
  assert len(np.unique(labels)) == 3
  for group in (slice(0, 10), slice(10, 15), slice(15, 18)):
    assert len(np.unique(labels[group])) == 1
  single = patches.cluster_patches(np.ones((7, 2)), num_clusters=20, seed=0)
  np.testing.assert_array_equal(single, 0)
  assert patches.cluster_patches(np.zeros((0, 2)), 20, 0).shape == (0,)


def test_cluster_counts():
  counts = patches.cluster_counts(np.array([0, 0, 3, 3, 3]), num_clusters=5)
  np.testing.assert_array_equal(counts, [2, 0, 0, 3, 0])


def test_balanced_indices_equal_per_cluster():
  # Very unequal clusters: 1000, 100, 10 and 3 patches, label 2 empty.
  labels = np.repeat([0, 1, 3, 4], [1000, 100, 10, 3])
  rng = np.random.default_rng(0)
  picked = patches.balanced_indices(labels, 402, rng)
  assert picked.shape == (402,)
  counts = patches.cluster_counts(labels[picked], 5)
  assert counts[2] == 0
  assert counts.max() - counts[counts > 0].min() <= 1 and counts.sum() == 402
  # Clusters with enough patches are sampled without replacement; small ones hold all theirs.
  big = picked[labels[picked] == 0]
  assert len(np.unique(big)) == len(big)
  assert set(picked[labels[picked] == 4].tolist()) == {1110, 1111, 1112}
  np.testing.assert_array_equal(picked, patches.balanced_indices(labels, 402,
                                                                 np.random.default_rng(0)))


def _synthetic_examples(count=3, size=64, channels=5):
  """Stacks, GT alphas (a blurred disc edge plus a hair-like stripe region) and trimaps."""
  rng = np.random.default_rng(7)
  y, x = np.mgrid[:size, :size]
  examples = []
  for i in range(count):
    radius = np.hypot(y - size / 2, x - size / 2 + 3 * i)
    alpha = np.clip((20 - radius) / (2 + i), 0, 1)
    alpha *= np.where(x > size / 2, 0.5 + 0.5 * np.sin(x * (1 + i)), 1.0)
    alpha = np.clip(alpha, 0, 1).astype(np.float32)
    trimap = np.full_like(alpha, 0.5)
    trimap[radius < 6] = 1.0
    trimap[radius > 26] = 0.0
    stack = rng.random((size, size, channels)).astype(np.float32)
    examples.append((stack, alpha, trimap))
  return examples


def test_build_patch_set_shapes_dtypes_and_provenance():
  examples = _synthetic_examples()
  out = patches.build_patch_set(examples, num_patches=300, seed=0, max_per_image=200,
                                num_clusters=20, stride=1, input_dtype=np.float16)
  assert out["inputs"].shape == (300, 27, 27, 5) and out["inputs"].dtype == np.float16
  assert out["targets"].shape == (300, 15, 15) and out["targets"].dtype == np.float32
  assert out["labels"].shape == (300,) and out["counts"].shape == (20,)
  assert out["counts"].sum() == 600  # 200 candidates per image
  # Each patch is the window of its recorded source.
  for k in (0, 123, 299):
    stack, alpha, trimap = examples[out["image_index"][k]]
    r, c = out["centers"][k]
    assert trimap[r, c] == 0.5
    np.testing.assert_array_equal(out["targets"][k], alpha[r - 7:r + 8, c - 7:c + 8])
    np.testing.assert_allclose(out["inputs"][k], stack[r - 13:r + 14, c - 13:c + 14],
                               atol=1e-3)
  # Balanced: every non-empty cluster is sampled (near) equally.
  sampled = patches.cluster_counts(out["labels"], 20)
  nonempty = out["counts"] > 0
  assert sampled[nonempty].max() - sampled[nonempty].min() <= 1
  assert (sampled[~nonempty] == 0).all()


def test_build_patch_set_deterministic_and_rejects_iterators():
  examples = _synthetic_examples(count=2)
  a = patches.build_patch_set(examples, 50, seed=1, max_per_image=100)
  b = patches.build_patch_set(examples, 50, seed=1, max_per_image=100)
  for key in a:
    np.testing.assert_array_equal(a[key], b[key])
  assert a["inputs"].dtype == np.float32
  with pytest.raises(TypeError, match="sequence"):
    patches.build_patch_set(iter(examples), 50, seed=1)


def test_build_patch_set_without_unknown_pixels_is_a_clear_error():
  stack = np.zeros((40, 40, 5), np.float32)
  trimap = np.zeros((40, 40), np.float32)
  trimap[:, 20:] = 1.0
  with pytest.raises(MattingInputError, match="no training patch fits"):
    patches.build_patch_set([(stack, trimap, trimap)], 10, seed=0)


def test_hard_weights_and_weighted_sampling_without_replacement():
  np.testing.assert_allclose(patches.hard_weights([0.0, 2.0, 4.0], 2.0), [1.0, 3.0, 5.0])
  np.testing.assert_array_equal(patches.hard_weights([0.0, 0.0], 5.0), [1.0, 1.0])
  members = np.arange(100, 200)
  weights = np.where(members < 110, 50.0, 1.0)  # Ten heavy members.
  counts = np.zeros(100, int)
  rng = np.random.default_rng(0)
  for _ in range(200):
    picked = patches._weighted_sample(members, 20, weights, rng)
    assert len(np.unique(picked)) == 20 and np.isin(picked, members).all()
    counts[picked - 100] += 1
  # Uniform draws would pick each member 40 times; the heavy ones come nearly every time.
  assert counts[:10].min() > 180 and counts[10:].mean() < 30


def test_hard_weight_draws_more_patches_where_the_classic_mattes_are_wrong():
  """Each example twice: channel 3 is the GT (a perfect input) in the first copy and 1 - GT in
  the second. With hard_weight most patches come from the second copies, still balanced over
  the clusters (which hold both copies alike)."""
  examples = []
  for stack, alpha, trimap in _synthetic_examples(channels=4):
    for matte in (alpha, 1.0 - alpha):
      examples.append((np.concatenate([stack[..., :3], matte[..., None]], axis=-1), alpha,
                       trimap))
  kwargs = dict(num_patches=200, seed=0, max_per_image=300, stride=1)
  plain = patches.build_patch_set(examples, **kwargs)
  hard = patches.build_patch_set(examples, **kwargs, hard_weight=10.0, classic_channels=[3])
  wrong = [(out["image_index"] % 2 == 1).mean() for out in (plain, hard)]
  assert 0.35 < wrong[0] < 0.65 and wrong[1] > 0.8
  sampled = patches.cluster_counts(hard["labels"], 20)
  nonempty = hard["counts"] > 0
  assert sampled[nonempty].max() - sampled[nonempty].min() <= 1
  again = patches.build_patch_set(examples, **kwargs, hard_weight=10.0, classic_channels=[3])
  np.testing.assert_array_equal(again["centers"], hard["centers"])
  with pytest.raises(MattingInputError, match="classic mattes"):
    patches.build_patch_set(examples, **kwargs, hard_weight=1.0)


def test_hard_error_min_counts_the_better_input_and_mean_both():
  """Channel 3 is right everywhere, channel 4 wrong on the right half: the better input's
  error is 0 everywhere, the mean error is large on the right only."""
  alpha = np.zeros((40, 40), np.float32)
  alpha[:, 10:30] = 1.0
  stack = np.zeros((40, 40, 5), np.float32)
  stack[..., 3] = alpha
  stack[..., 4] = alpha
  stack[:, 20:, 4] = 1.0 - alpha[:, 20:]
  np.testing.assert_array_equal(patches.classic_error(stack, alpha, [3, 4], "min"), 0)
  mean = patches.classic_error(stack, alpha, [3, 4], "mean")
  assert mean[:, :12].max() == 0 and mean[:, 28:].min() == pytest.approx(0.5)
  with pytest.raises(MattingInputError, match="'max'") as error:
    patches.build_patch_set([(stack, alpha, np.full_like(alpha, 0.5))], 10, seed=0,
                            hard_weight=1.0, classic_channels=[3, 4], hard_error="max")
  assert error.value.field == "patches.hard_error"
