"""Runs an experiment and its sweep: `python launch.py --experiment=NAME [--mode=cpu]`.

`experiments/NAME.py` declares `get_config(mode)` (an ml_collections ConfigDict) and
`sweep(mode)` (a list of {dotted.field: value} overrides, one per sweep point). Any config
field can be overridden on the command line, e.g. `--config.data.synthetic.num=3`.
Results go to `--workdir` (default runs/NAME), one sub-directory per sweep point.
"""

import importlib
import os
import sys

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
  console.quiet_library_logs(verbose=FLAGS.verbosity > 0)
  module = load_experiment(FLAGS.experiment)
  if FLAGS.coordinator_address or FLAGS.num_processes:
    from matting.training.sharding import maybe_initialize_distributed
    maybe_initialize_distributed(FLAGS.coordinator_address, FLAGS.num_processes,
                                 FLAGS.process_id)
  cfg = FLAGS.config
  if FLAGS.data_dir is not None:
    cfg.data.dir = FLAGS.data_dir
  workdir = FLAGS.workdir or os.path.join("runs", FLAGS.experiment)
  try:
    print(runner.run_sweep(cfg, workdir, module.sweep(FLAGS.mode), FLAGS.experiment))
  except MattingInputError as e:
    print(f"launch.py: error: {flag_message(e)}", file=sys.stderr)
    sys.exit(2)
  print(f"wrote {workdir}/report.md", file=sys.stderr)


def define_config_flag(argv):
  """Loads the experiment's config before absl parses `--config.*` overrides."""
  FLAGS(argv, known_only=True)
  try:
    module = load_experiment(FLAGS.experiment)
  except app.UsageError as e:
    print(f"launch.py: error: {e}", file=sys.stderr)
    sys.exit(2)
  config_flags.DEFINE_config_dict("config", module.get_config(FLAGS.mode),
                                  "experiment config; override fields with --config.a.b=value")


if __name__ == "__main__":
  define_config_flag(sys.argv)
  app.run(main)
