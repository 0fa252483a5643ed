"""Shipped DCNN weights: one small `.npz` exported from a training run, and its loader.

The file holds the flattened parameter tree, one array per leaf under its '/'-joined path
(e.g. 'params/conv1/kernel'), plus two 0-d string arrays: 'config.json', the run's whole
experiment config, and 'provenance.json' (run directory, step, command). NumPy reads it back
without pickle or orbax, so a user needs no training directory to predict; the loader
checks every leaf against the network its config describes (shapes traced with JAX, nothing
run) before a model is built.
"""

import json
import os

import ml_collections
import numpy as np

from matting.data.io import atomic_path
from matting.errors import MattingInputError
from matting.models import architecture

CONFIG_KEY = "config.json"
PROVENANCE_KEY = "provenance.json"
WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "weights")
DEFAULT_WEIGHTS = os.path.join(WEIGHTS_DIR, "dcnn_rgb_cf_knn.npz")
# Opt-in (`--checkpoint`): the comp-input network fine-tuned on the generalist recipe
# (matting/weights/README.md; not the default: see BUILD_NOTES.md, issue 13).
GENERALIST_WEIGHTS = os.path.join(WEIGHTS_DIR, "dcnn_rgb_cf_knn_comp_generalist.npz")


def default_weights():
  """The weights shipped inside the package, or None when this install has none."""
  return DEFAULT_WEIGHTS if os.path.isfile(DEFAULT_WEIGHTS) else None


def flatten_params(tree, prefix="", keep=False):
  """{'a/b/c': array} from a nested dict of arrays (leaves as they are with `keep`)."""
  flat = {}
  for name, value in tree.items():
    key = f"{prefix}{name}"
    if hasattr(value, "items"):
      flat.update(flatten_params(value, key + "/", keep))
    else:
      flat[key] = value if keep else np.asarray(value)
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


# Model config fields that decide the parameter shapes; a weights file must state them.
SHAPE_FIELDS = ("num_remap_layers", "remap_widths", "first_width", "first_kernel",
                "last_kernel")


def _not_weights(path, what):
  return MattingInputError(f"not a matting weights file: {path}: {what}")


def _read(path):
  if not os.path.isfile(path):
    raise MattingInputError(f"{path}: no such weights file")
  try:
    with np.load(path, allow_pickle=False) as data:
      arrays = {key: data[key] for key in data.files}
  except Exception as e:  # np.load raises many types for files that are not .npz.
    raise _not_weights(path, f"unreadable ({type(e).__name__}: {e})") from e
  if CONFIG_KEY not in arrays or len(arrays) < 2:
    raise _not_weights(path, f"no {CONFIG_KEY} or no parameters; write one with "
                       "`matting export`")
  return arrays


def _read_config(path, arrays):
  """The ConfigDict of the file's config.json, checked to describe a DCNN and its inputs."""
  text = arrays.pop(CONFIG_KEY)
  if text.ndim != 0 or text.dtype.kind not in "US":
    raise _not_weights(path, f"{CONFIG_KEY} is not a string")
  text = str(text)
  if not text.strip():
    raise _not_weights(path, f"{CONFIG_KEY} is empty")
  try:
    config = json.loads(text)
  except ValueError as e:
    raise _not_weights(path, f"{CONFIG_KEY} is not valid JSON ({e})") from e
  if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
    raise _not_weights(path, f"{CONFIG_KEY} has no model section")
  missing = [f"model.{name}" for name in SHAPE_FIELDS if name not in config["model"]]
  if not isinstance(config.get("inputs"), dict) or "combination" not in config["inputs"]:
    missing.append("inputs.combination")
  if missing:
    raise _not_weights(path, f"{CONFIG_KEY} lacks {', '.join(missing)}")
  return ml_collections.ConfigDict(config)


def _expected_shapes(path, cfg):
  """{'params/...': shape} of the DCNN that `cfg` describes (models/architecture.py: no JAX
  import, so that `matting predict` with the NumPy engine never loads it)."""
  from matting.inputs.stacks import num_channels
  try:
    return architecture.param_shapes(cfg.model, num_channels(cfg.inputs.combination))
  except (MattingInputError, TypeError, ValueError, KeyError) as e:
    field = getattr(e, "field", None)
    what = f"{field} {e}" if field else str(e)
    raise _not_weights(path, f"{CONFIG_KEY} does not describe a DCNN ({what})") from e


def _check_params(path, arrays, expected):
  """Raises unless `arrays` has exactly the leaves of `expected`, of its shapes and dtypes,
  all finite."""
  missing = sorted(set(expected) - set(arrays))
  if missing:
    raise _not_weights(path, f"missing parameter {', '.join(missing)}")
  extra = sorted(set(arrays) - set(expected))
  if extra:
    raise _not_weights(path, f"unexpected parameter {', '.join(extra)}")
  for key, shape in expected.items():
    got = arrays[key]
    if got.shape != tuple(shape):
      raise _not_weights(path, f"{key} has shape {got.shape}, the config needs {tuple(shape)}")
    if got.dtype != np.float32:
      raise _not_weights(path, f"{key} has dtype {got.dtype}, expected float32")
    if not np.all(np.isfinite(got)):
      raise _not_weights(path, f"{key} contains NaN or Inf")


def load_params(path):
  """(params, config) from a weights file, ready for `matting.predict.predict_image`.

  The file is checked before any model is built: its config (readable JSON naming the model
  fields and input combination) and, against the network that config describes, every
  parameter's name, shape, dtype and finiteness. Any problem raises one MattingInputError
  "not a matting weights file: PATH: what is wrong".
  """
  path = os.fspath(path)
  arrays = _read(path)
  cfg = _read_config(path, arrays)
  arrays.pop(PROVENANCE_KEY, None)
  _check_params(path, arrays, _expected_shapes(path, cfg))
  return unflatten_params(arrays), cfg


def read_provenance(path):
  """The provenance dict stored by `export_params` (run_dir, step, which, command)."""
  arrays = _read(os.fspath(path))
  return json.loads(str(arrays.get(PROVENANCE_KEY, "{}")))
