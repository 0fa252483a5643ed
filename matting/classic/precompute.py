"""Classic mattes computed ahead of training, split into deterministic shards.

A work item is one (image, trimap, method) whose matte lives at `cache_dir/METHOD/KEY.npz`
(classic/cache.py). `precompute` sorts all the items an experiment needs by (key, method)
and takes every N-th from offset I: the same share whatever is already cached, so N shards
(a cluster job array, or the processes of one jax.distributed run) started at any time
split the work without overlap, and a killed shard resumes where it stopped. Writes are
atomic (temp file + rename), so shards sharing a filesystem never see a partial matte.
"""

import os

from matting.classic import cache
from matting.errors import MattingInputError


def parse_shard(text):
  """(index, count) from 'I/N' with 0 <= I < N."""
  index, sep, count = str(text).partition("/")
  try:
    index, count = int(index), int(count)
  except ValueError:
    index = count = None
  if not sep or count is None or not 0 <= index < count:
    raise MattingInputError(f"expected I/N with 0 <= I < N (e.g. 0/4), got {text!r}",
                            field="shard")
  return index, count


def work_items(cache_dir, groups):
  """Sorted unique [(key, method, path, example)] of `groups`, [(examples, methods)]."""
  items = {}
  for examples, methods in groups:
    for example in examples:
      for method in methods:
        key = cache.cache_key(example.image, example.trimap, method)
        path = cache.cache_path(cache_dir, method, key)
        items.setdefault(path, (key, method, path, example))
  return sorted(items.values(), key=lambda item: (item[0], item[1]))


def precompute(cache_dir, groups, shard=(0, 1), processes=None, progress=True):
  """Computes this shard's missing mattes of `groups` ([(examples, methods)]) into cache_dir.

  Returns counts: total items, cached (present before this call, any shard's), shard_items
  (this shard's share), computed (by this call) and missing_elsewhere (other shards' work
  still missing when this call started).
  """
  index, count = shard
  items = work_items(cache_dir, groups)
  present = [os.path.exists(item[2]) for item in items]
  mine = range(index, len(items), count)
  todo = [items[i] for i in mine if not present[i]]
  if todo:
    cache.compute_and_store(
        [(path, method, example.image, example.trimap, None) for _, method, path, example in todo],
        processes, f"precompute {index}/{count} -> {cache_dir}" if progress else None)
  missing = len(items) - sum(present)
  return {"total": len(items), "cached": sum(present), "shard": f"{index}/{count}",
          "shard_items": len(mine), "computed": len(todo),
          "missing_elsewhere": missing - len(todo)}


def format_counts(counts):
  return (f"precompute shard {counts['shard']}: {counts['total']} mattes needed, "
          f"{counts['cached']} already cached, {counts['computed']} computed by this shard "
          f"(of its {counts['shard_items']}), {counts['missing_elsewhere']} left to other shards")
