"""Train-state checkpoints with orbax, the run's config beside them, and reading them back.

A checkpoint is saved every `every_steps` steps and when forced (at the end of training);
the last `keep_last` are kept, plus the `keep_best` with the lowest validation metric
(`best_metric`, SAD by default) among checkpoints saved with metrics. Orbax's own
`max_to_keep` + `best_fn` would keep only the best ones, hence the explicit policies.
Saves are synchronous: the model is tiny, and the train step donates the state's buffers.
"""

import contextlib
import gc
import json
import logging as pylogging
import os
import sys
import warnings

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from absl import logging
from orbax.checkpoint import checkpoint_managers

from matting.data.io import atomic_path
from matting.errors import MattingInputError
from matting.inputs import stacks
from matting.models import architecture, weights

CONFIG_NAME = "config.json"


def default_checkpoint_config():
  return ml_collections.ConfigDict({
      "every_steps": 1000,
      "keep_last": 3,
      "keep_best": 1,
      "best_metric": "sad",
  })


def make_manager(directory, ckpt_cfg):
  """An orbax CheckpointManager over `directory` with the policies of `ckpt_cfg`."""
  metric = ckpt_cfg.best_metric

  def best_fn(metrics):
    return metrics[metric]

  policy = checkpoint_managers.AnyPreservationPolicy([
      checkpoint_managers.LatestN(n=ckpt_cfg.keep_last),
      # reverse=True sorts descending, so the last (kept) n are the lowest.
      checkpoint_managers.BestN(get_metric_fn=best_fn, reverse=True, n=ckpt_cfg.keep_best,
                                keep_checkpoints_without_metrics=False),
  ])
  extra = {}
  if _THIS_PROCESS_ONLY and jax.process_count() > 1:
    me = jax.process_index()
    extra["multiprocessing_options"] = ocp.options.MultiprocessingOptions(
        primary_host=me, active_processes={me})
  options = ocp.CheckpointManagerOptions(
      save_interval_steps=ckpt_cfg.every_steps, best_fn=best_fn, best_mode="min",
      preservation_policy=policy, enable_async_checkpointing=False,
      create=not extra, **extra)  # Orbax cannot create the folder for a subset of processes.
  return ocp.CheckpointManager(os.path.abspath(directory), options=options)


_THIS_PROCESS_ONLY = False


@contextlib.contextmanager
def this_process_only():
  """Managers made inside act for this process alone: in a multi-process run, process 0
  reads checkpoints for its reports while the others wait, and orbax's default barriers
  across all processes would never be met."""
  global _THIS_PROCESS_ONLY  # pylint: disable=global-statement
  previous, _THIS_PROCESS_ONLY = _THIS_PROCESS_ONLY, True
  try:
    yield
  finally:
    _THIS_PROCESS_ONLY = previous


def _items(state):
  return {"step": state.step, "params": state.params, "opt_state": state.opt_state}


def save(manager, state, metrics=None, force=False):
  """Saves `state` at its step if due (or `force`); `metrics`: {name: scalar}. Returns saved?"""
  step = int(jax.device_get(state.step))
  if metrics is not None:
    metrics = {name: float(value) for name, value in metrics.items()}
  saved = manager.save(step, args=ocp.args.StandardSave(_items(state)), metrics=metrics,
                       force=force)
  manager.wait_until_finished()
  return saved


def restore(manager, state, step=None):
  """`state` with step, params and opt_state from checkpoint `step` (default: the latest).

  `state` supplies the structure, dtypes and shardings; use `manager.best_step()` for the
  best checkpoint by the validation metric.
  """
  step = manager.latest_step() if step is None else step
  if step is None:
    raise FileNotFoundError(f"{manager.directory}: no checkpoint to restore")
  items = manager.restore(step, args=ocp.args.StandardRestore(_items(state)))
  return state.replace(**items)


# Where training moves damaged checkpoints it resumed past (see `resume`), beside checkpoints/.
DAMAGED_DIR = "damaged_checkpoints"


def _short_reason(error):
  """One short line for an orbax/tensorstore error (they append a page-long spec dump)."""
  text = str(error).strip()
  text = text.splitlines()[0] if text else ""
  if text.startswith("Encountered error while reading array index"):
    return "an array file is truncated or missing"
  for cut in (" See full TensorStore details", " [tensorstore_spec"):
    text = text.split(cut)[0]
  text = text if len(text) <= 160 else text[:157] + "..."
  return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _drop_orbax_read_reports(hook):
  """An unraisable-exception hook that drops the 'Exception ignored in <coroutine
  _read_array_index_and_device_put>' reports orbax leaves behind when a read of a damaged
  checkpoint fails (they are collected at some later point), and passes on all others."""

  def filtered(unraisable):
    name = getattr(getattr(unraisable.object, "cr_code", None), "co_name", "")
    if name == "_read_array_index_and_device_put":
      return
    hook(unraisable)

  filtered.drops_orbax_reads = True
  return filtered


@contextlib.contextmanager
def _quiet_orbax():
  """Silences orbax while a possibly damaged checkpoint is read: its log records (it logs
  through absl), and, from then on, the reports of its abandoned reads. The caller reports a
  damaged checkpoint in one line of its own."""
  if not getattr(sys.unraisablehook, "drops_orbax_reads", False):
    sys.unraisablehook = _drop_orbax_read_reports(sys.unraisablehook)
  absl_logger = pylogging.getLogger("absl")
  level = absl_logger.level
  absl_logger.setLevel(pylogging.CRITICAL)
  try:
    yield
  finally:
    absl_logger.setLevel(level)
    gc.collect()  # Most abandoned reads are collected here, while the filter is in place.


def _restore_first_intact(directory, ckpt_cfg, candidates, make_args):
  """(step, items, damaged) for the first of `candidates` that restores, else (None, None,
  damaged); damaged: [(step, reason)] for those tried before, which failed to read.

  Each attempt uses a fresh manager: after a failed restore (of an empty step directory, say)
  a manager can no longer infer the item layout of the next one.
  """
  damaged = []
  for step in candidates:
    step_dir = os.path.join(directory, str(step))
    if os.path.isdir(step_dir) and not os.listdir(step_dir):
      damaged.append((step, "empty step directory"))
      continue
    with _quiet_orbax():
      manager = make_manager(directory, ckpt_cfg)
      try:
        return step, manager.restore(step, args=make_args()), damaged
      except Exception as e:  # Missing/truncated files raise many types (tensorstore, orbax).
        damaged.append((step, _short_reason(e)))
      finally:
        manager.close()
  return None, None, damaged


def _damage_list(damaged):
  return "; ".join(f"step {step}: {reason}" for step, reason in damaged)


def resume(workdir, ckpt_cfg, state):
  """(manager, state) for training in `workdir`, `state` restored from the newest intact
  checkpoint (returned unchanged when there is none yet).

  A damaged newer checkpoint is logged in one line and moved (by process 0 of a multi-process
  run, the others waiting) to workdir/damaged_checkpoints/:
  left in checkpoints/, orbax would count it as the latest step and refuse to save that step
  again when training reaches it. Moving (not deleting) keeps it for inspection. No intact
  checkpoint at all raises MattingInputError.
  """
  directory = os.path.join(workdir, "checkpoints")
  with _quiet_orbax():
    manager = make_manager(directory, ckpt_cfg)
  candidates = sorted(manager.all_steps(), reverse=True)
  if not candidates:
    return manager, state
  manager.close()
  found, items, damaged = _restore_first_intact(
      directory, ckpt_cfg, candidates, lambda: ocp.args.StandardRestore(_items(state)))
  if found is None:
    raise MattingInputError(f"{directory}: no intact checkpoint to resume from "
                            f"({_damage_list(damaged)}); move it aside to start over")
  if damaged and jax.process_index() == 0:  # One process moves; the others wait below.
    aside = os.path.join(workdir, DAMAGED_DIR)
    os.makedirs(aside, exist_ok=True)
    for step, reason in damaged:
      target = os.path.join(aside, str(step))
      suffix = 1
      while os.path.exists(target):
        target, suffix = os.path.join(aside, f"{step}.{suffix}"), suffix + 1
      os.replace(os.path.join(directory, str(step)), target)
      logging.warning("checkpoint at step %d is damaged (%s); moved it to %s and resuming "
                      "from step %d", step, reason, target, found)
  if damaged and jax.process_count() > 1:
    from jax.experimental import multihost_utils
    multihost_utils.sync_global_devices("matting: damaged checkpoints moved aside")
  return make_manager(directory, ckpt_cfg), state.replace(**items)


def write_config(directory, cfg):
  """Writes the experiment config as JSON beside the checkpoints, atomically."""
  with atomic_path(os.path.join(directory, CONFIG_NAME)) as tmp:
    with open(tmp, "w") as f:
      f.write(cfg.to_json_best_effort(indent=2, sort_keys=True) + "\n")


def read_config(directory):
  """The ConfigDict written by `write_config` (tuples come back as lists)."""
  path = os.path.join(directory, CONFIG_NAME)
  try:
    with open(path) as f:
      return ml_collections.ConfigDict(json.load(f))
  except (ValueError, TypeError) as e:  # Truncated, empty or not a JSON object.
    raise MattingInputError(f"{path}: unreadable run config ({type(e).__name__}: {e})",
                            field="checkpoint") from e


def run_dir_of(path):
  """The training work directory for `path`, which may name it or its checkpoints/ folder."""
  path = os.path.abspath(path)
  return os.path.dirname(path) if os.path.basename(path) == "checkpoints" else path


@contextlib.contextmanager
def open_run(run_dir):
  """(config, CheckpointManager) of a training work directory; the manager is closed after."""
  run_dir = run_dir_of(run_dir)
  if not os.path.exists(os.path.join(run_dir, CONFIG_NAME)):
    raise MattingInputError(f"{run_dir}: no {CONFIG_NAME}; expected a training work directory",
                            field="checkpoint")
  cfg = read_config(run_dir)
  with _quiet_orbax():  # It warns about step directories with missing files: see restore_params.
    manager = make_manager(os.path.join(run_dir, "checkpoints"), cfg.checkpoint)
  try:
    yield cfg, manager
  finally:
    manager.close()


def resolve_step(manager, which="best", run_dir=""):
  """The step of checkpoint `which`: 'best' (lowest validation metric, else the latest),
  'latest', or a step number that must have been saved."""
  steps = manager.all_steps()
  step = {"best": manager.best_step(), "latest": manager.latest_step()}.get(which, which)
  step = manager.latest_step() if step is None else int(step)
  if step not in steps:
    raise MattingInputError(f"{run_dir}: no checkpoint at step {which}; saved: {sorted(steps)}",
                            field="step")
  return step


def _host_target(directory, step):
  """A restore target placing every saved array on this process's first device, or None.

  A checkpoint saved by several processes records their devices, and orbax refuses to
  restore it on others without target shardings; evaluation on one process passes these.
  A run's tree has the same shapes at every step. None (unreadable metadata, a damaged step)
  leaves the error to the restore itself.
  """
  from etils import epath  # pylint: disable=import-outside-toplevel  # orbax's path type.
  try:
    tree = ocp.StandardCheckpointHandler().metadata(epath.Path(directory) / str(step) / "default")
  except Exception:  # pylint: disable=broad-except
    return None
  device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  return jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=device), tree)


def restore_params(run_dir, which="best"):
  """(params, config, step) of checkpoint `which` (see `resolve_step`) of a training run.

  Only the saved tree is read (no optimizer or model is built): the parameters come back as
  host arrays. A damaged 'best'/'latest' checkpoint falls back, with a warning, to the newest
  intact one; a damaged explicit step number raises MattingInputError.
  """
  with open_run(run_dir) as (cfg, manager):
    step = resolve_step(manager, which, run_dir)
    explicit = not (isinstance(which, str) and which in ("best", "latest"))
    newest_first = sorted(manager.all_steps(), reverse=True)
    candidates = [step] if explicit else [step] + [s for s in newest_first if s != step]
    target = _host_target(manager.directory, step)  # Multi-process checkpoints need it.
    found, items, damaged = _restore_first_intact(manager.directory, cfg.checkpoint, candidates,
                                                  lambda: ocp.args.StandardRestore(target))
  if found is None and explicit:
    raise MattingInputError(f"{run_dir}: checkpoint at step {step} is damaged "
                            f"({damaged[0][1]})", field="step")
  if found is None:
    raise MattingInputError(f"{run_dir}: no intact checkpoint ({_damage_list(damaged)})",
                            field="checkpoint")
  for bad, reason in damaged:
    warnings.warn(f"{run_dir}: checkpoint at step {bad} is damaged ({reason}); using "
                  f"step {found}, the newest intact one", stacklevel=2)
  params = jax.tree.map(np.asarray, items["params"])
  return params, cfg, found


def initial_params(path, params, combination=None):
  """The parameters at `path` (a weights file or a work directory's best checkpoint), as the
  starting point of a run whose freshly initialised parameters are `params`; they must have
  the same names and shapes, with two exceptions that keep the source network's very
  function at the start: a run with input `combination` may add input channels to the
  source's (the first layer's weights of every source channel are carried over by name, or
  to its stand-in, e.g. knn to knn_rgb; those of a new channel start at zero), and a run
  may have a wider first layer (the source's filters come first, the new ones keep their
  fresh initialisation and the second layer's weights from them start at zero, so they
  learn without changing the start), and a gated run may start from an ungated source (the
  gate starts constant, giving the source's alpha GATE_START_WEIGHT at every pixel).
  Errors name the field train.init_from."""
  try:
    if os.path.isdir(path):
      loaded, source_cfg, _ = restore_params(path, "best")
    else:
      loaded, source_cfg = weights.load_params(path)
  except MattingInputError as e:
    raise MattingInputError(str(e), field="train.init_from") from e
  want, got = weights.flatten_params(params), weights.flatten_params(loaded)
  source = source_cfg.inputs.combination
  if combination is not None and combination != source:
    first = architecture.FIRST_KERNEL
    got[first] = _kernel_for_channels(path, got[first], source, combination)
  _widen_first_layer(got, want)
  _start_gate(got, want)
  wrong = sorted(k for k in set(want) | set(got)
                 if k not in want or k not in got or want[k].shape != got[k].shape)
  if wrong:
    raise MattingInputError(f"{path}: its parameters do not fit this run's network (first "
                            f"mismatch: {wrong[0]})", field="train.init_from")
  loaded = weights.unflatten_params(got)
  return jax.tree.map(lambda fresh, new: np.asarray(new, fresh.dtype), params, loaded)


def _widen_first_layer(got, want):
  """In place: the source's first layer (`got`) widened to the run's (`want`, fresh values)
  when the run has more first-layer filters and the layers around it otherwise match."""
  first = architecture.FIRST_KERNEL
  second = next((k for k in architecture.SECOND_KERNELS if k in want), None)
  if first not in got or first not in want or second is None or second not in got:
    return
  have, need = got[first].shape[-1], want[first].shape[-1]
  if need <= have or got[first].shape[:-1] != want[first].shape[:-1]:
    return
  if got[second].shape[:2] + got[second].shape[3:] != want[second].shape[:2] + \
      want[second].shape[3:]:
    return
  kernel = np.array(want[first], dtype=got[first].dtype)
  kernel[..., :have] = got[first]
  following = np.zeros(want[second].shape, got[second].dtype)
  following[:, :, :have] = got[second]
  got[first], got[second] = kernel, following


GATE_START_WEIGHT = 0.95  # The source's alpha's share at the start; each input matte's is equal.


def _start_gate(got, want):
  """In place: a constant gate for a gated run (`want`) from an ungated source (`got`): zero
  kernel, and a bias whose softmax gives the alpha GATE_START_WEIGHT, so the run starts close
  to the source's function (not at it: a softmax gives no candidate all the weight)."""
  kernel, bias = (f"params/{architecture.GATE}/{leaf}" for leaf in ("kernel", "bias"))
  if kernel not in want or kernel in got:
    return
  mattes = want[bias].shape[0] - 1
  start = np.zeros(want[bias].shape, want[bias].dtype)
  start[0] = np.log(GATE_START_WEIGHT * mattes / (1.0 - GATE_START_WEIGHT))
  got[kernel], got[bias] = np.zeros(want[kernel].shape, want[kernel].dtype), start


def _kernel_for_channels(path, kernel, source, combination):
  """The first layer's kernel of a `source`-input network rearranged for `combination`'s
  channels: each source channel's slice moves to that channel's place, new ones are zero;
  a channel the source lacks takes the slice of its stand-in (stacks.STAND_INS: knn_rgb from
  knn) when the source has that and the run does not."""
  have, need = stacks.channel_names(source), stacks.channel_names(combination)
  rename = {stand_in: name for name, stand_in in stacks.STAND_INS.items()
            if name in need and name not in have and stand_in in have and stand_in not in need}
  have = tuple(rename.get(c, c) for c in have)
  dropped = [c for c in have if c not in need]
  if dropped:
    raise MattingInputError(f"{path}: its input {source} has channels ({', '.join(dropped)}) "
                            f"that this run's {combination} lacks", field="train.init_from")
  out = np.zeros(kernel.shape[:2] + (len(need),) + kernel.shape[3:], kernel.dtype)
  for i, name in enumerate(have):
    out[:, :, need.index(name)] = kernel[:, :, i]
  return out


def export_weights(run_dir, out_path, which="best", command=""):
  """Writes checkpoint `which` of a training run as one weights file (models/weights.py).

  command: how the run was trained or exported, kept as provenance. Returns the step.
  """
  run_dir = run_dir_of(run_dir)
  params, cfg, step = restore_params(run_dir, which)
  provenance = {"run_dir": run_dir, "step": step, "which": str(which), "command": command}
  weights.save_weights(out_path, params, cfg, provenance)
  return step
