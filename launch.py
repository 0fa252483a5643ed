"""Runs an experiment and its sweep: `python launch.py --experiment=NAME [--mode=cpu]`.

`experiments/NAME.py` declares `get_config(mode)` (an ml_collections ConfigDict) and
`sweep(mode)` (a list of {dotted.field: value} overrides, one per sweep point). Any config
field can be overridden on the command line, e.g. `--config.data.synthetic.num=3`.
Results go to `--workdir` (default runs/NAME), one sub-directory per sweep point.
"""

import importlib
import os
import sys

import ml_collections
from absl import app, flags
from ml_collections import config_flags

from matting.errors import MattingInputError

flags.DEFINE_string("experiment", "ablation_layers", "experiment file name under experiments/")
flags.DEFINE_enum("mode", "cpu", ["smoke", "cpu", "paper"],
                  "scale: smoke (~1 min, tests), cpu (2-core CPU, <= 20 min), paper (GPU)")
flags.DEFINE_string("workdir", None, "output directory (default runs/EXPERIMENT)")
flags.DEFINE_string("data_dir", None,
                    "alphamatting-layout data root (default: the embedded synthetic set)")
flags.DEFINE_string("coordinator_address", None,
                    "multi-host: host:port of process 0 (calls jax.distributed.initialize)")
flags.DEFINE_integer("num_processes", None, "multi-host: number of processes")
flags.DEFINE_integer("process_id", None, "multi-host: this process's index")
flags.DEFINE_bool("precompute", False,
                  "only compute the classic mattes the experiment needs into cache_dir, then exit")
flags.DEFINE_string("shard", None, "with --precompute: I/N, this job's 1/N of the mattes "
                    "(default: the process's share under --num_processes, else all)")
flags.DEFINE_bool("cpu_thread_invariant", False,
                  "XLA CPU: turn off the YNNPACK fusion, an unconfirmed source of CPU-count "
                  "dependent results (BUILD_NOTES.md, issue 12)")
flags.DEFINE_list("seeds", None, "run every sweep point once per seed (e.g. 0,1,2), in "
                  "POINT/seed_K with config.seed=K; reports give mean ± std over seeds")
flags.DEFINE_list("points", None, "run only these sweep points, by name (e.g. layers_1,layers_4; "
                  "default: all)")
FLAGS = flags.FLAGS


def load_experiment(name):
  try:
    return importlib.import_module(f"experiments.{name}")
  except ModuleNotFoundError as e:
    if e.name == f"experiments.{name}":
      raise app.UsageError(f"--experiment: no experiments/{name}.py") from e
    raise


def flag_message(error):
  """The one-line message of a MattingInputError, led by the flag its field came from."""
  field = getattr(error, "field", None)
  if not field:
    return str(error)
  flag = "--data_dir" if field == "data.dir" and FLAGS.data_dir is not None else f"--config.{field}"
  return f"{flag}: {error}"


def main(argv):
  del argv
  from matting import console, runner
  from matting.memory import avoid_huge_page_stalls
  from matting.training import config_checks
  console.quiet_library_logs(verbose=FLAGS.verbosity > 0)
  avoid_huge_page_stalls()
  module = load_experiment(FLAGS.experiment)
  from matting.training import sharding
  sharding.deterministic_gpu()  # Same command, same numbers, on a GPU too.
  if FLAGS.cpu_thread_invariant:
    sharding.thread_invariant_cpu()
  if FLAGS.coordinator_address or FLAGS.num_processes:
    sharding.maybe_initialize_distributed(FLAGS.coordinator_address, FLAGS.num_processes,
                                          FLAGS.process_id)
  cfg = FLAGS.config
  if FLAGS.data_dir is not None:
    cfg.data.dir = FLAGS.data_dir
  workdir = FLAGS.workdir or os.path.join("runs", FLAGS.experiment)
  try:
    sweep = _selected_points(runner, module.sweep(FLAGS.mode))
    for overrides in sweep:  # Every point's numbers, before any point writes anything.
      config_checks.check_config(runner.apply_overrides(cfg, overrides))
    seeds = _seeds()
    if FLAGS.precompute:
      _precompute(runner, cfg, sweep, seeds)
      return
    print(runner.run_sweep(cfg, workdir, sweep, FLAGS.experiment, seeds=seeds))
  except MattingInputError as e:
    print(f"launch.py: error: {flag_message(e)}", file=sys.stderr)
    sys.exit(2)
  print(f"wrote {workdir}/report.md", file=sys.stderr)


def _selected_points(runner, sweep):
  """The sweep points named by --points (all without it), in the sweep's order."""
  if not FLAGS.points:
    return sweep
  names = [runner.point_name(overrides) for overrides in sweep]
  unknown = [name for name in FLAGS.points if name not in names]
  if unknown:
    _usage_error(f"--points: no point {unknown[0]!r} in experiments/{FLAGS.experiment}.py "
                 f"(its points: {', '.join(names)})")
  return [overrides for name, overrides in zip(names, sweep) if name in FLAGS.points]


def _seeds():
  """The --seeds as integers, or None."""
  try:
    return [int(seed) for seed in FLAGS.seeds] if FLAGS.seeds else None
  except ValueError:
    _usage_error(f"--seeds: expected comma-separated integers, got {','.join(FLAGS.seeds)!r}")


def _precompute(runner, cfg, sweep, seeds):
  """--precompute: this shard's classic mattes into cfg.cache_dir; prints the counts."""
  from matting.classic import precompute
  if FLAGS.shard is not None:
    try:
      shard = precompute.parse_shard(FLAGS.shard)
    except MattingInputError as e:
      _usage_error(f"--shard: {e}")
  else:
    import jax
    shard = (jax.process_index(), jax.process_count()) if FLAGS.num_processes else (0, 1)
  counts = runner.precompute_sweep(cfg, sweep, shard, seeds)
  print(precompute.format_counts(counts))
  if FLAGS.num_processes and FLAGS.num_processes > 1:
    from jax.experimental import multihost_utils
    multihost_utils.sync_global_devices("matting: precompute")


def _usage_error(message):
  """Prints `launch.py: error: MESSAGE` (its first line) and exits with status 2."""
  message = str(message).strip().splitlines()[0] if str(message).strip() else "bad flags"
  print(f"launch.py: error: {message}", file=sys.stderr)
  sys.exit(2)


def _unknown_config_field(cfg, argv):
  """The first `--config.a.b` of `argv` that names no field of `cfg`, as an error message.

  ml_collections raises a bare AttributeError with a page of traceback for these.
  """
  for arg in argv[1:]:
    if arg == "--":
      break
    name = arg.lstrip("-").split("=", 1)[0]
    if name.startswith("noconfig."):
      name = name[2:]
    if not name.startswith("config.") or "[" in name:
      continue
    node = cfg
    for part in name[len("config."):].split("."):
      if not isinstance(node, ml_collections.ConfigDict) or part not in node:
        return f"--{name}: no such config field in experiments/{FLAGS.experiment}.py"
      node = node[part]
  return None


def define_config_flag(argv):
  """Loads the experiment's config, defines `--config.*` from it and parses every flag.

  Returns the arguments left after the flags. A bad flag (unknown flag or config field, a
  value that does not parse, a --mode outside its choices) prints one line and exits 2,
  rather than absl's usage text (exit 1) or ml_collections' traceback.
  """
  app.define_help_flags()  # --help/--helpshort/--helpfull, which app.run would define.
  try:
    FLAGS(argv, known_only=True)
  except flags.Error as e:
    _usage_error(e)
  try:
    module = load_experiment(FLAGS.experiment)
  except app.UsageError as e:
    _usage_error(e)
  cfg = module.get_config(FLAGS.mode)
  unknown = _unknown_config_field(cfg, argv)
  if unknown:
    _usage_error(unknown)
  try:
    config_flags.DEFINE_config_dict("config", cfg,
                                    "experiment config; override fields with --config.a.b=value")
    return FLAGS(argv)
  except (flags.Error, AttributeError, KeyError, TypeError, ValueError) as e:
    _usage_error(e)


if __name__ == "__main__":
  remaining = define_config_flag(sys.argv)
  app.run(main, flags_parser=lambda _: remaining)
