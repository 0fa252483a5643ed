"""The DCNN's training and validation patches (§4.1), from examples to cached patch arrays.

Flow: estimate each training foreground from its GT alpha → re-composite onto new
backgrounds with rotation/reflection/resizing → classic mattes recomputed on every composite
(cached) → input stacks → 20-cluster balanced 27×27/15×15 patches. The patch set is itself
cached, keyed by everything it depends on, so sweep points share it. The split into training
and validation images is data/splits.py's.
"""

import hashlib
import json
import os

import numpy as np
from absl import logging

from matting.compose.foreground import estimate_foreground
from matting.data import datasets, synthetic
from matting.data.io import atomic_path
from matting.inputs import augment, patches, stacks

PATCHES_VERSION = 1


def backgrounds(train_examples, aug_cfg, seed):
  """New backgrounds: seeded synthetic textures, (optionally) the training photographs, and
  every image in `aug_cfg.background_dirs` (photographs that never appear as a foreground)."""
  rng = np.random.default_rng([seed, 1])
  height = max(e.image.shape[0] for e in train_examples)
  width = max(e.image.shape[1] for e in train_examples)
  out = [synthetic.make_background(rng, height, width) for _ in range(aug_cfg.num_backgrounds)]
  if aug_cfg.photo_backgrounds:
    out += [e.image for e in train_examples]
  for folder in aug_cfg.get("background_dirs", ()):
    out += datasets.load_images(folder)
  return out


def training_composites(train_examples, aug_cfg, seed):
  """The originals (if asked) plus `num_per_example` augmented composites of each."""
  originals = list(train_examples) if aug_cfg.include_originals else []
  if not aug_cfg.num_per_example:
    return originals  # e.g. Composition-1k, whose composites are the training images.
  with_fg = [(e, estimate_foreground(e.image, e.alpha)[0]) for e in train_examples]
  composites = augment.augmented_set(
      with_fg, backgrounds(train_examples, aug_cfg, seed), aug_cfg.num_per_example, seed,
      max_angle_deg=aug_cfg.max_angle_deg, scale_range=tuple(aug_cfg.scale_range),
      flip_prob=aug_cfg.flip_prob)
  return originals + composites


def _images_digest(folder):
  """SHA-256 over the names and bytes of the images `load_images(folder)` reads."""
  digest = hashlib.sha256()
  for path in datasets.image_files(folder):
    digest.update(os.path.basename(path).encode())
    with open(path, "rb") as f:
      digest.update(hashlib.sha256(f.read()).digest())
  return digest.hexdigest()


def patch_set_key(cfg):
  """Hash of every config field the training patches depend on, and of the contents of the
  background folders (so that editing their images invalidates the cached patches)."""
  fields = {"data": cfg.data.to_dict(), "augment": cfg.augment.to_dict(),
            "patches": cfg.patches.to_dict(), "combination": cfg.inputs.combination,
            "seed": cfg.seed, "version": PATCHES_VERSION}
  folders = cfg.augment.get("background_dirs", ())
  if folders:
    fields["background_contents"] = [_images_digest(folder) for folder in folders]
  return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def _build_train_patches(cfg, train_examples, cache_dir):
  composites = training_composites(train_examples, cfg.augment, cfg.seed)
  logging.info("training composites: %d from %d images", len(composites), len(train_examples))
  examples_stacks = stacks.example_stacks(composites, cfg.inputs.combination, cache_dir)
  patch_set = patches.build_patch_set(
      examples_stacks, cfg.patches.num_patches, cfg.seed, max_per_image=cfg.patches.max_per_image,
      num_clusters=cfg.patches.num_clusters, stride=cfg.patches.stride)
  patch_set["num_composites"] = np.asarray(len(composites))
  return patch_set


def train_patches(cfg, train_examples, cache_dir):
  """The balanced training patch set, loaded from `cache_dir/patches` or built and stored."""
  path = os.path.join(cache_dir, "patches", f"{patch_set_key(cfg)}.npz")
  if not os.path.exists(path):
    patch_set = _build_train_patches(cfg, train_examples, cache_dir)
    with atomic_path(path) as tmp:
      np.savez(tmp, **patch_set)
  with np.load(path) as data:
    patch_set = {k: data[k] for k in data.files}
  logging.info("training patches: %d; candidates per cluster: %s",
               len(patch_set["targets"]), patch_set["counts"].tolist())
  return patch_set


def validation_data(cfg, val_sets, cache_dir):
  """Per validation set: whole-image stacks (for SAD etc.) and unaugmented patches (loss)."""
  out = {}
  for name, examples in val_sets.items():
    examples_stacks = stacks.example_stacks(examples, cfg.inputs.combination, cache_dir)
    patch_set = patches.build_patch_set(examples_stacks, cfg.patches.num_val_patches, cfg.seed + 1,
                                        num_clusters=cfg.patches.num_clusters,
                                        stride=cfg.patches.stride)
    out[name] = {"examples": examples, "stacks": [s for s, _, _ in examples_stacks],
                 "patches": {"inputs": patch_set["inputs"], "target": patch_set["targets"]}}
  return out
