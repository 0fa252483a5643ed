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


def maybe_initialize_distributed(coordinator_address=None, num_processes=None,
                                 process_id=None):
  """Calls jax.distributed.initialize for multi-process runs; returns whether it did."""
  if coordinator_address is None and num_processes in (None, 1):
    return False
  jax.distributed.initialize(coordinator_address=coordinator_address,
                             num_processes=num_processes, process_id=process_id)
  return True
