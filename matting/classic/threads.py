"""Work spread over the cores in threads, for the solvers' kernels that release the GIL
(SciPy's sparse products, the KD-tree builds, NumPy's gathers and sums)."""

import os
from concurrent.futures import ThreadPoolExecutor


def usable_cores():
  """Cores this process may run on (its CPU affinity, else the machine's count)."""
  if hasattr(os, "sched_getaffinity"):
    return max(1, len(os.sched_getaffinity(0)))
  return os.cpu_count() or 1


def map_on_cores(function, items):
  """[function(item) for item in items], in order, on one thread per usable core (in this
  thread when there is one core or one item)."""
  items = list(items)
  threads = min(usable_cores(), len(items))
  if threads < 2:
    return [function(item) for item in items]
  with ThreadPoolExecutor(threads) as pool:
    return list(pool.map(function, items))
