"""The DCNN's training and validation patches (§4.1), from examples to cached patch arrays.

Flow: estimate each training foreground from its GT alpha → re-composite onto new
backgrounds with rotation/reflection/resizing → classic mattes recomputed on every composite
(cached) → input stacks → 20-cluster balanced 27×27/15×15 patches. The patch set is itself
cached, keyed by everything it depends on, so sweep points share it. The split into training
and validation images is data/splits.py's.
"""

import contextlib
import hashlib
import json
import os

import numpy as np
from absl import logging

from matting.compose.foreground import estimate_foreground
from matting.data import datasets, io, synthetic
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
  out += [io.read_image(path) for path in aug_cfg.get("background_files", ())]
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
      flip_prob=aug_cfg.flip_prob, max_pixels=aug_cfg.get("max_pixels"))
  return originals + composites


def _images_digest(paths):
  """SHA-256 over the names and bytes of image files (e.g. `image_files(folder)`)."""
  digest = hashlib.sha256()
  for path in paths:
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
    fields["background_contents"] = [_images_digest(datasets.image_files(folder))
                                     for folder in folders]
  files = cfg.augment.get("background_files", ())
  if files:
    fields["background_file_contents"] = _images_digest(files)
  return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def _build_train_patches(cfg, train_examples, cache_dir):
  composites = training_composites(train_examples, cfg.augment, cfg.seed)
  logging.info("training composites: %d from %d images", len(composites), len(train_examples))
  examples_stacks = stacks.example_stacks(composites, cfg.inputs.combination, cache_dir)
  classic = stacks.classic_methods(cfg.inputs.combination)
  patch_set = patches.build_patch_set(
      examples_stacks, cfg.patches.num_patches, cfg.seed, max_per_image=cfg.patches.max_per_image,
      num_clusters=cfg.patches.num_clusters, stride=cfg.patches.stride,
      hard_weight=cfg.patches.get("hard_weight", 0.0),
      hard_error=cfg.patches.get("hard_error", "min"),
      classic_channels=[i for i, name in enumerate(stacks.channel_names(cfg.inputs.combination))
                        if name in classic])
  patch_set["num_composites"] = np.asarray(len(composites))
  return patch_set


PATCH_SET_KEYS = ("inputs", "targets", "counts")


def _load_patch_set(path):
  """The cached patch set at `path`, or None after logging and deleting a damaged file.

  Verified on read (readable archive, its arrays, matching lengths, finite values), so a
  truncated or empty file is rebuilt instead of failing every later run.
  """
  try:
    with np.load(path, allow_pickle=False) as data:
      patch_set = {k: data[k] for k in data.files}
    missing = [k for k in PATCH_SET_KEYS if k not in patch_set]
    if missing:
      raise ValueError(f"no {', '.join(missing)}")
    if len(patch_set["inputs"]) != len(patch_set["targets"]) or not len(patch_set["targets"]):
      raise ValueError(f"{len(patch_set['inputs'])} inputs for "
                       f"{len(patch_set['targets'])} targets")
    if not (np.all(np.isfinite(patch_set["inputs"]))
            and np.all(np.isfinite(patch_set["targets"]))):
      raise ValueError("NaN or Inf values")
  except Exception as e:  # BadZipFile, EOFError, zlib.error, OSError, ValueError, ...
    logging.warning("damaged patch-set cache file %s (%s: %s); rebuilding it", path,
                    type(e).__name__, e)
    with contextlib.suppress(FileNotFoundError):
      os.remove(path)
    return None
  return patch_set


def train_patches(cfg, train_examples, cache_dir):
  """The balanced training patch set, loaded from `cache_dir/patches` or built and stored.

  A set that cannot be stored (a full disk: each is ~6 GB at 300k patches of 6 channels) is
  used without its cache file, with a warning: the cache only saves the next run's time."""
  path = os.path.join(cache_dir, "patches", f"{patch_set_key(cfg)}.npz")
  patch_set = _load_patch_set(path) if os.path.exists(path) else None
  if patch_set is None:
    patch_set = _build_train_patches(cfg, train_examples, cache_dir)
    try:
      with io.atomic_path(path) as tmp:
        np.savez(tmp, **patch_set)
    except OSError as e:
      logging.warning("could not cache the patch set in %s (%s); training goes on without "
                      "it", path, e)
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
