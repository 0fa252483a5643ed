"""Offline cache of classic mattes, keyed by a hash of the inputs and solver parameters.

Classic mattes are by far the slowest stage (seconds per image), and every (image, trimap,
augmentation) needs its own (§4.1). Each matte is computed once, stored as a compressed
`.npz` under `cache_dir/METHOD/KEY.npz` (the matte as 'alpha', its solve time in seconds as
'seconds') written atomically, and computed in parallel worker processes with a progress bar.
A killed run resumes with the mattes still missing; a damaged entry (truncated, empty, not
a matte of the right size) is logged once, deleted and recomputed.
"""

import concurrent.futures
import contextlib
import hashlib
import json
import multiprocessing
import os
import time

import numpy as np
from absl import logging

from matting import classic
from matting.console import Progress
from matting.data.io import atomic_path

# Bump when a solver's output changes for the same inputs and parameters: CACHE_VERSION for
# all of them, SOLVER_VERSIONS for one (methods not listed are at version 1 of their own).
CACHE_VERSION = 1
# knn 2: the approximate neighbour search (knn.SEARCH_EPS); 3: CG to rtol 1e-6 (knn.RTOL).
# knn_rgb runs knn's solver: bump the two together. cf 2: the tiles follow a budget fixed per
# machine (earlier entries of large images may hold tiles set by the memory free then).
# comp 2: its smoothing is the closed-form solve with a prior, tiled above 250k unknowns
# (mattes below that bit-identical to version 1's).
SOLVER_VERSIONS = {"cf": 2, "knn": 3, "knn_rgb": 3, "comp": 2}


def cache_key(image, trimap, method, params=None):
  """Hex digest over the image and trimap bytes and shapes, the method and its parameters."""
  digest = hashlib.sha256()
  for array in (image, trimap):
    array = np.ascontiguousarray(array, dtype=np.float32)
    digest.update(repr(array.shape).encode())
    digest.update(array.tobytes())
  identity = {"method": method, "params": params or {}, "version": CACHE_VERSION}
  if method in SOLVER_VERSIONS:
    identity["solver_version"] = SOLVER_VERSIONS[method]
  digest.update(json.dumps(identity, sort_keys=True).encode())
  return digest.hexdigest()


def cache_path(cache_dir, method, key):
  return os.path.join(cache_dir, method, f"{key}.npz")


def _load(path, shape=None):
  """(alpha, solve seconds or NaN for entries written before the time was stored).

  Raises ValueError (naming the file) for an entry that is unreadable or not a finite
  [0,1] matte (of (H, W) `shape` when given): a damaged entry, see `_load_or_forget`.
  """
  try:
    with np.load(path, allow_pickle=False) as data:
      seconds = float(data["seconds"]) if "seconds" in data.files else float("nan")
      alpha = data["alpha"]
  except Exception as e:  # BadZipFile, EOFError, KeyError, zlib.error, OSError, ...
    raise ValueError(f"{path}: unreadable cache entry ({type(e).__name__}: {e})") from e
  if alpha.ndim != 2 or (shape is not None and alpha.shape != tuple(shape[:2])):
    raise ValueError(f"{path}: cached matte has shape {alpha.shape}, expected {shape}")
  if not np.all(np.isfinite(alpha)) or alpha.size and (alpha.min() < 0 or alpha.max() > 1):
    raise ValueError(f"{path}: cached matte has values outside [0,1] or NaN")
  return alpha, seconds


def _load_or_forget(path, shape):
  """`_load(path)`, or None after logging and deleting a damaged entry (it is recomputed).

  A cache heals itself: one warning names the file; later runs find a fresh entry.
  """
  try:
    return _load(path, shape)
  except ValueError as e:
    logging.warning("damaged classic-matte cache entry, recomputing: %s", e)
    with contextlib.suppress(FileNotFoundError):
      os.remove(path)
    return None


def _compute_and_store(path, method, image, trimap, params):
  start = time.perf_counter()
  alpha = classic.classic_alpha(method, image, trimap, **(params or {}))
  seconds = time.perf_counter() - start
  with atomic_path(path) as tmp:
    np.savez_compressed(tmp, alpha=np.asarray(alpha, np.float32), seconds=np.float64(seconds))
  return path


def cached_matte(cache_dir, method, image, trimap, params=None):
  """The classic matte of (image, trimap), from the cache or computed and stored."""
  path = cache_path(cache_dir, method, cache_key(image, trimap, method, params))
  if os.path.exists(path):
    entry = _load_or_forget(path, trimap.shape)
    if entry is not None:
      return entry[0]
  _compute_and_store(path, method, image, trimap, params)
  return _load(path, trimap.shape)[0]


def compute_and_store(jobs, processes=None, label=None):
  """Solves and stores every (path, method, image, trimap, params) job, in `processes` worker
  processes (default: the CPU count; 1 computes here), with a progress bar when `label`."""
  meter = Progress(len(jobs), label) if label else None
  processes = min(processes or os.cpu_count() or 1, len(jobs))
  if processes == 1:
    for done, job in enumerate(jobs, 1):
      _compute_and_store(*job)
      if meter:
        meter.update(done, job[1])
  else:
    # 'spawn' keeps workers free of the parent's threads (JAX/BLAS) and imports.
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(processes, mp_context=context) as pool:
      futures = [pool.submit(_compute_and_store, *job) for job in jobs]
      for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
        path = future.result()
        if meter:
          meter.update(done, os.path.basename(os.path.dirname(path)))
  if meter:
    meter.close()


def cached_mattes(cache_dir, examples, methods, params=None, processes=None, progress=True,
                  with_seconds=False):
  """Returns [{method: alpha}] per example, computing missing mattes in worker processes.

  Args:
    examples: objects with `.name`, `.image` (H, W, 3) and `.trimap` (H, W).
    methods: classic method names (see matting.classic).
    params: optional {method: {param: value}} passed to the solvers (and hashed).
    processes: worker count (default: CPU count); 1 computes in this process.
    with_seconds: return [{method: (alpha, solve seconds)}] instead.
  """
  params = params or {}
  paths = [{m: cache_path(cache_dir, m, cache_key(e.image, e.trimap, m, params.get(m)))
            for m in methods} for e in examples]
  loaded, todo = {}, []
  for i, per_example in enumerate(paths):
    for m, p in per_example.items():
      entry = _load_or_forget(p, examples[i].trimap.shape) if os.path.exists(p) else None
      if entry is None:
        todo.append((i, m))
      else:
        loaded[i, m] = entry
  if todo:
    compute_and_store(
        [(paths[i][m], m, examples[i].image, examples[i].trimap, params.get(m))
         for i, m in todo], processes, f"classic mattes -> {cache_dir}" if progress else None)
  pick = (lambda entry: entry) if with_seconds else (lambda entry: entry[0])
  for i, m in todo:
    loaded[i, m] = _load(paths[i][m], examples[i].trimap.shape)
  return [{m: pick(loaded[i, m]) for m in per_example} for i, per_example in enumerate(paths)]
