"""A few training steps of a tiny DCNN on an in-memory patch set, in one process of a
`num_processes` jax.distributed run on localhost (or alone), through the library's own
batch slicing (loop.process_batch), sharding and orbax checkpointing.

  python tests/two_process_train.py OUT_DIR RUN_DIR NUM_PROCESSES PROCESS_ID [PORT]

Saves the final state in RUN_DIR/checkpoints (every process calls save, as orbax's
multi-process saving requires; process 0 writes RUN_DIR/config.json). Writes
OUT_DIR/process_ID.json: the patch indices this process fed each step, whether they
equal the rows it placed on its device, the final parameters (flattened) and losses.
Used by tests/test_two_process_training.py.
"""

import json
import os
import sys

import jax

jax.config.update("jax_cpu_collectives_implementation", "gloo")

import ml_collections  # pylint: disable=wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position

from matting.models import dcnn  # pylint: disable=wrong-import-position
from matting.training import (  # pylint: disable=wrong-import-position
    checkpoints, loop, optim, sharding, steps)

GLOBAL_BATCH, NUM_STEPS, NUM_PATCHES, SEED = 8, 5, 64, 3


def patch_set():
  rng = np.random.default_rng(0)
  return {"inputs": rng.random((NUM_PATCHES, 27, 27, 3), dtype=np.float32),
          "targets": rng.random((NUM_PATCHES, 15, 15), dtype=np.float32)}


def main(out_dir, run_dir, num_processes, process_id, port=None):
  if num_processes > 1:
    sharding.maybe_initialize_distributed(f"127.0.0.1:{port}", num_processes, process_id)
  mesh = sharding.make_mesh()
  cfg = optim.default_train_config()
  cfg.update(optimizer="adam", lr=1e-3, schedule="constant")
  model = dcnn.DCNN(num_remap_layers=1, remap_widths=(16,), first_width=16)
  state = sharding.replicate(steps.create_train_state(
      jax.random.key(0), model, 3, optim.make_optimizer(cfg)), mesh)
  patches = patch_set()
  fed, matches, losses = [], [], []
  rows = sharding.process_rows(mesh, GLOBAL_BATCH)
  for step in range(NUM_STEPS):
    batch = loop.process_batch(patches, SEED, step, GLOBAL_BATCH, mesh)
    index = loop.batch_index(SEED, step, NUM_PATCHES, GLOBAL_BATCH)[rows]
    local = np.concatenate([np.asarray(s.data) for s in sorted(
        batch["target"].addressable_shards, key=lambda s: s.index[0].start or 0)])
    matches.append(bool(np.array_equal(local, patches["targets"][index])))
    fed.append(index.tolist())
    state, metrics = steps.train_step(state, batch)
    losses.append(float(sharding.local_copy(metrics["loss"])))
  ckpt_cfg = checkpoints.default_checkpoint_config()
  ckpt_cfg.every_steps = NUM_STEPS
  if sharding.is_main_process():
    os.makedirs(run_dir, exist_ok=True)
    checkpoints.write_config(run_dir, ml_collections.ConfigDict({"checkpoint": ckpt_cfg}))
  manager = checkpoints.make_manager(os.path.join(run_dir, "checkpoints"), ckpt_cfg)
  saved = checkpoints.save(manager, state, {"sad": losses[-1]}, force=True)
  manager.close()
  params = sharding.local_copy(state.params)
  flat = np.concatenate([np.ravel(p) for p in jax.tree.leaves(params)]).astype(float)
  result = {"process_index": jax.process_index(), "process_count": jax.process_count(),
            "devices": jax.device_count(), "rows": [rows.start, rows.stop], "fed": fed,
            "fed_matches": matches, "losses": losses, "saved": bool(saved),
            "params": flat.tolist()}
  os.makedirs(out_dir, exist_ok=True)
  with open(os.path.join(out_dir, f"process_{process_id}.json"), "w") as f:
    json.dump(result, f)


if __name__ == "__main__":
  main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
       sys.argv[5] if len(sys.argv) > 5 else None)
