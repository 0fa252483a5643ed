"""Data parallelism over devices and hosts: the mesh, replicated state, sharded batches.

A 1-D Mesh over all devices with axis 'data'; `shard_batch` places each process's slice of
the global batch on its devices, `replicate` copies the state, and XLA inserts the gradient
all-reduce, so the same train step runs on one CPU, several GPUs or many hosts.
"""

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def make_mesh(devices=None):
  """A 1-D device mesh with axis 'data' over `devices` (default: all devices)."""
  return Mesh(np.asarray(devices if devices is not None else jax.devices()), ("data",))


def replicate(tree, mesh):
  """Places every array of `tree` in full on every device of `mesh`."""
  return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


def shard_batch(batch, mesh):
  """Splits this process's batch over the mesh's 'data' axis (global batch across processes)."""
  sharding = NamedSharding(mesh, PartitionSpec("data"))
  num_shards = mesh.shape["data"] // jax.process_count()

  def put(array):
    array = np.asarray(array)
    if array.shape[0] % num_shards:
      raise ValueError(f"batch size {array.shape[0]} is not divisible by the "
                       f"{num_shards} local devices")
    return jax.make_array_from_process_local_data(sharding, array)

  return jax.tree.map(put, batch)


def process_rows(mesh, size):
  """The slice of a global batch of `size` rows that this process's devices hold: each
  process feeds only these rows to `shard_batch` (rows [i*size/P, (i+1)*size/P) for process
  i of P when the mesh lists the devices by process, as jax.devices() does)."""
  if size % mesh.shape["data"]:
    raise ValueError(f"global batch size {size} is not divisible by the "
                     f"{mesh.shape['data']} devices")
  spans = sorted({(index[0].start or 0, size if index[0].stop is None else index[0].stop)
                  for index in NamedSharding(mesh, PartitionSpec("data"))
                  .addressable_devices_indices_map((size,)).values()})
  if any(a[1] != b[0] for a, b in zip(spans, spans[1:])):
    raise ValueError(f"this process's devices hold non-contiguous rows {spans}")
  return slice(spans[0][0], spans[-1][1])


def local_copy(tree):
  """Host NumPy copies of a tree of replicated (or host) arrays; works in multi-process runs,
  where a replicated array is not fully addressable and jax.device_get refuses it."""
  def get(leaf):
    if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
      return np.asarray(leaf.addressable_data(0))
    return np.asarray(jax.device_get(leaf))
  return jax.tree.map(get, tree)


def is_main_process():
  """Whether this process writes reports, histories and figures (process 0)."""
  return jax.process_index() == 0


# XLA CPU's YNNPACK fusion of dots and convolutions may partition its work by the number of
# CPUs the process can run on: a 300-step smoke run's SAD moved 0.7% between 1 and 2 usable
# CPUs with it, 0.04% without. A direct probe of the train step (benchmarks/determinism.py)
# did not confirm the effect, so this stays opt-in and unproven (BUILD_NOTES.md, issue 12).
THREAD_INVARIANT_XLA_FLAG = "--xla_cpu_experimental_ynn_fusion_type="


def thread_invariant_cpu():
  """Turns off that fusion for this process (via XLA_FLAGS); call before JAX first computes.

  It reduced the CPU-count dependence of one smoke run but not of the train-step probe (see
  above); no speed cost was measured on 2 cores. Raises if JAX's backend is already running.
  """
  _add_xla_flag(THREAD_INVARIANT_XLA_FLAG)


# On a GPU, XLA may pick atomics-based reductions and autotuned convolution algorithms that
# round differently from run to run: two identical smoke runs on an H200 ended with SAD
# 1.460116 and 1.460145 (BUILD_NOTES.md, the GPU path). This flag makes them repeatable, for
# 20-37 % of the train step's throughput there; CPU and TPU builds accept and ignore it. A
# user's own --xla_gpu_deterministic_ops=false in XLA_FLAGS is left to win.
DETERMINISTIC_GPU_XLA_FLAG = "--xla_gpu_deterministic_ops=true"


def deterministic_gpu():
  """Asks XLA for run-to-run reproducible GPU kernels; call before JAX first computes."""
  _add_xla_flag(DETERMINISTIC_GPU_XLA_FLAG)


def _add_xla_flag(flag):
  """Appends `flag` to XLA_FLAGS unless XLA_FLAGS already sets it (to any value); raises if
  JAX's backends already started (too late to take effect)."""
  import os  # pylint: disable=import-outside-toplevel

  from jax._src import xla_bridge  # pylint: disable=import-outside-toplevel
  if xla_bridge.backends_are_initialized():
    raise RuntimeError(f"{flag} must be set before JAX initialises its backends")
  flags = os.environ.get("XLA_FLAGS", "")
  name = flag.split("=")[0]
  if not any(f.split("=")[0] == name for f in flags.split()):
    os.environ["XLA_FLAGS"] = f"{flags} {flag}".strip()


def maybe_initialize_distributed(coordinator_address=None, num_processes=None,
                                 process_id=None):
  """Calls jax.distributed.initialize for multi-process runs; returns whether it did."""
  if coordinator_address is None and num_processes in (None, 1):
    return False
  jax.distributed.initialize(coordinator_address=coordinator_address,
                             num_processes=num_processes, process_id=process_id)
  return True
