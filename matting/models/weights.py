"""Shipped DCNN weights: one small `.npz` exported from a training run, and its loader.

The file holds the flattened parameter tree, one array per leaf under its '/'-joined path
(e.g. 'params/conv1/kernel'), plus two 0-d string arrays: 'config.json', the run's whole
experiment config, and 'provenance.json' (run directory, step, command). NumPy reads it back
without pickle, JAX or orbax, so a user needs no training directory to predict.
"""

import json
import os

import ml_collections
import numpy as np

from matting.data.io import atomic_path
from matting.errors import MattingInputError

CONFIG_KEY = "config.json"
PROVENANCE_KEY = "provenance.json"
WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "weights")
DEFAULT_WEIGHTS = os.path.join(WEIGHTS_DIR, "dcnn_rgb_cf_knn.npz")


def default_weights():
  """The weights shipped inside the package, or None when this install has none."""
  return DEFAULT_WEIGHTS if os.path.isfile(DEFAULT_WEIGHTS) else None


def flatten_params(tree, prefix=""):
  """{'a/b/c': array} from a nested dict of arrays."""
  flat = {}
  for name, value in tree.items():
    key = f"{prefix}{name}"
    if hasattr(value, "items"):
      flat.update(flatten_params(value, key + "/"))
    else:
      flat[key] = np.asarray(value)
  return flat


def unflatten_params(flat):
  """The nested dict of `flatten_params`'s input from its output."""
  tree = {}
  for key, value in flat.items():
    *parents, leaf = key.split("/")
    node = tree
    for name in parents:
      node = node.setdefault(name, {})
    node[leaf] = value
  return tree


def save_weights(path, params, cfg, provenance=None):
  """Writes `params` (a nested dict of arrays), the experiment config and provenance as one
  weights file, atomically."""
  arrays = flatten_params(params)
  arrays[CONFIG_KEY] = np.array(cfg.to_json_best_effort(sort_keys=True))
  arrays[PROVENANCE_KEY] = np.array(json.dumps(provenance or {}, sort_keys=True))
  with atomic_path(path) as tmp:
    with open(tmp, "wb") as f:  # A file object: np.savez would append '.npz' to a name.
      np.savez(f, **arrays)


def _read(path):
  if not os.path.isfile(path):
    raise MattingInputError(f"{path}: no such weights file")
  try:
    with np.load(path, allow_pickle=False) as data:
      arrays = {key: data[key] for key in data.files}
  except Exception as e:  # np.load raises many types for files that are not .npz.
    raise MattingInputError(f"{path}: not a weights file ({type(e).__name__}: {e})") from e
  if CONFIG_KEY not in arrays or len(arrays) < 2:
    raise MattingInputError(f"{path}: not a matting weights file (no {CONFIG_KEY} or "
                            "no parameters); write one with `matting export`")
  return arrays


def load_params(path):
  """(params, config) from a weights file, ready for `matting.predict.predict_image`."""
  arrays = _read(os.fspath(path))
  cfg = ml_collections.ConfigDict(json.loads(str(arrays.pop(CONFIG_KEY))))
  arrays.pop(PROVENANCE_KEY, None)
  return unflatten_params(arrays), cfg


def read_provenance(path):
  """The provenance dict stored by `export_params` (run_dir, step, which, command)."""
  arrays = _read(os.fspath(path))
  return json.loads(str(arrays.get(PROVENANCE_KEY, "{}")))
