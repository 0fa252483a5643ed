"""Runs an experiment's sweep in a work directory and writes its reports (called by launch.py).

Kinds: 'classic' solves and scores the classic mattes; 'train' trains one DCNN per sweep
point (a finished point is skipped, an interrupted one resumes), then scores every point and
the cached classic baselines once and writes the sweep report (and each point's own report
from the same rows); 'evaluate' scores every checkpoint under given work directories, and
weights files, on the validation sets, reusing the cached classic mattes. All scoring goes
through `evaluators.scoring`.
"""

import json
import os
import re

import numpy as np
from absl import logging

from matting.data import io, splits
from matting.errors import MattingInputError
from matting.evaluators import scoring
from matting.reports import tables

ROW_COLUMNS = ("set", "image", "method", "sad", "mse", "grad", "conn", "seconds")
SUMMARY_COLUMNS = ("set", "method", "images", "sad", "mse", "grad", "conn", "seconds")
SEED_COLUMNS = ("set", "method", "seeds", "images", "sad", "mse", "grad", "conn", "seconds")
BASELINES = ("cf", "knn")
SEED_DIR = re.compile(r"seed_-?[0-9]+")


def point_name(overrides):
  """A sweep point's directory name: its 'name' entry, else its overrides."""
  if "name" in overrides:
    return str(overrides["name"])
  if not overrides:
    return "."
  return ",".join(f"{key.split('.')[-1]}={value}" for key, value in overrides.items())


def apply_overrides(cfg, overrides):
  cfg = cfg.copy_and_resolve_references()
  cfg.update_from_flattened_dict({k: v for k, v in overrides.items() if k != "name"})
  return cfg


def write_tables(workdir, title, rows, subsets=None):
  """report.md (means over seeds ± their standard deviation when runs are seeded; means over
  images; means over `subsets`, {label: (set, image names)}; per-image rows when a set has
  several images), results.csv/.json."""
  summary = scoring.summarize(rows)
  subset_summary = scoring.summarize(
      [{**row, "set": label} for label, (set_name, names) in (subsets or {}).items()
       for row in rows if row["set"] == set_name and row["image"] in names])
  seeds = tables.seed_rows(summary, scoring.VALUE_KEYS)
  text = f"# {title}\n\n"
  if seeds:
    text += ("## Mean ± standard deviation over seeds\n\n"
             + tables.markdown_table(seeds, SEED_COLUMNS, spread=True) + "\n\n")
  text += "## Mean over images\n\n" + tables.markdown_table(summary, SUMMARY_COLUMNS)
  if subset_summary:
    text += ("\n\n## Mean over images, by structure\n\n"
             + tables.markdown_table(subset_summary, SUMMARY_COLUMNS))
  if any(row["images"] > 1 for row in summary):
    text += "\n\n## Per image\n\n" + tables.markdown_table(rows, ROW_COLUMNS)
  text += "\n"
  io.write_text(os.path.join(workdir, "report.md"), text)
  tables.write_csv(os.path.join(workdir, "results.csv"), rows, ROW_COLUMNS)
  io.write_json(os.path.join(workdir, "results.json"),
                {"summary": summary, "rows": rows, **({"seeds": seeds} if seeds else {}),
                 **({"subsets": subset_summary} if subset_summary else {})})
  return text


def evaluation_sets(cfg):
  """{name: examples}: the held-out validation sets, plus the far sets `cfg.far` asks for."""
  val_sets = splits.validation_sets(cfg.data)
  far = cfg.get("far")
  if far is not None and far.sets:
    from matting.inputs import far_sets
    val_sets = {**val_sets, **far_sets.far_validation_sets(far, val_sets)}
  return val_sets


def run_classic(cfg, workdir):
  """Solves and scores the classic methods on every validation set (timed, uncached)."""
  methods = scoring.available_methods(cfg.methods, cfg.include_pymatting)
  rows = []
  for set_name, examples in evaluation_sets(cfg).items():
    rows += scoring.score_classic(set_name, examples, methods, params=cfg.params.to_dict())
  return write_tables(workdir, "Classic mattes", rows)


def _finished(workdir, cfg):
  path = os.path.join(workdir, "result.json")
  if not os.path.exists(path):
    return False
  with open(path) as f:
    return json.load(f).get("final_step") == cfg.train.steps


def run_train(cfg, workdir):
  """Trains one DCNN configuration unless it already finished."""
  from matting.training import loop  # JAX is imported only by the training path.
  if _finished(workdir, cfg):
    logging.info("%s already finished; skipping", workdir)
  else:
    loop.train_and_evaluate(cfg, workdir, cfg.cache_dir)


def find_runs(paths):
  """Training work directories (config.json + checkpoints/) at or under each path, and each
  path that is itself a weights file (from `matting export`), in the order given.

  A path that does not exist or holds neither is an error naming it (field 'runs'), before
  any scoring: a mistyped name would otherwise drop its rows from the report unnoticed."""
  from matting.training import checkpoints
  runs = []
  for path in paths:
    if os.path.isfile(path):
      runs.append(os.path.normpath(path))
      continue
    if not os.path.isdir(path):
      raise MattingInputError(f"{path}: no such weights file or work directory", field="runs")
    found = len(runs)
    for root, dirs, files in os.walk(path):
      dirs.sort()
      if checkpoints.CONFIG_NAME in files and "checkpoints" in dirs:
        runs.append(os.path.normpath(root))
        dirs.remove("checkpoints")
    if len(runs) == found:
      raise MattingInputError(f"{path}: holds no training run ({checkpoints.CONFIG_NAME} and "
                              "checkpoints/); name weights files one by one", field="runs")
  return runs


def run_label(run_dir):
  """'dcnn:NAME' for a run directory or a weights file (without '.npz'); a seed directory
  POINT/seed_K (see `sweep_points`) is 'dcnn:POINT/seed_K'."""
  run_dir = os.path.normpath(run_dir)
  name = os.path.splitext(os.path.basename(run_dir))[0]
  if SEED_DIR.fullmatch(name):
    name = f"{os.path.basename(os.path.dirname(os.path.abspath(run_dir)))}/{name}"
  return "dcnn:" + name


def _checkpoints_to_score(run_dir, all_steps):
  from matting.training import checkpoints
  if os.path.isfile(run_dir):
    return [None]  # A weights file holds one set of parameters.
  if not all_steps:
    return ["best"]
  with checkpoints.open_run(run_dir) as (_, manager):
    return list(manager.all_steps())


def baseline_rows(val_sets, cache_dir, methods=BASELINES):
  """Rows of the cached classic mattes (and pymatting references, e.g. 'pymatting_sm'), with
  their cached solve times, and {(set, image): {method: alpha}} for figures."""
  from matting.classic import cache
  rows, alphas = [], {}
  for set_name, examples in val_sets.items():
    entries = cache.cached_mattes(os.path.join(cache_dir, "mattes"), examples, methods,
                                  with_seconds=True)
    for method in methods:
      rows += scoring.score_alphas(set_name, method, examples,
                                   [e[method][0] for e in entries],
                                   [e[method][1] for e in entries])
    for example, per_method in zip(examples, entries):
      alphas[(set_name, example.name)] = {m: a for m, (a, _) in per_method.items()}
  return rows, alphas


def run_rows(run_dir, val_sets, cache_dir, all_steps=False, symmetries=1):
  """Rows for a run's best checkpoint (or every checkpoint) or a weights file, and its alphas;
  with `symmetries` > 1 its outputs averaged over that many symmetries of the input
  (`inference.run_network`), the method labelled '...+symN'."""
  from matting import predict
  from matting.inputs import stacks
  rows, alphas, stacks_of = [], {}, {}
  for index, which in enumerate(_checkpoints_to_score(run_dir, all_steps)):
    params, cfg = predict.load_model(run_dir, which)
    method = (run_label(run_dir) + ("" if which in ("best", None) else f"@{which}")
              + ("" if symmetries == 1 else f"+sym{symmetries}"))
    for set_name, examples in val_sets.items():
      key = (set_name, cfg.inputs.combination)  # Every checkpoint of a run shares its stacks.
      if key not in stacks_of:
        stacks_of[key] = [s for s, _, _ in stacks.example_stacks(examples, key[1], cache_dir)]
      # One warm-up per run and set keeps compilation out of the timing; the checkpoints
      # of a run share the model shape, hence the compiled function.
      predictions, seconds = scoring.predict_stacks(params, cfg.model, stacks_of[key],
                                                    warm_up=index == 0, symmetries=symmetries)
      rows += scoring.score_alphas(set_name, method, examples, predictions, seconds)
      for example, alpha in zip(examples, predictions):
        alphas.setdefault((set_name, example.name), {})[method] = alpha
  return rows, alphas


def evaluate_runs(cfg, workdir, run_dirs, title, figures=True, all_steps=False,
                  point_reports=False):
  """Scores the classic baselines once and every run; writes the report (and, with
  `point_reports`, each run directory's own report from the same rows)."""
  val_sets = evaluation_sets(cfg)
  subsets = {}
  if cfg.get("far") is not None:
    from matting.inputs import far_sets
    subsets = far_sets.kind_subsets(cfg.far, val_sets)
  base_rows, alphas = baseline_rows(val_sets, cfg.cache_dir,
                                    tuple(cfg.get("baselines", BASELINES)))
  rows = list(base_rows)
  for run_dir in run_dirs:
    run_rows_, run_alphas = run_rows(run_dir, val_sets, cfg.cache_dir, all_steps,
                                     cfg.get("symmetries", 1))
    rows += run_rows_
    if point_reports and os.path.normpath(run_dir) != os.path.normpath(workdir):
      write_tables(run_dir, f"DCNN {os.path.basename(os.path.normpath(run_dir))}",
                   base_rows + run_rows_)
    for key, per_method in run_alphas.items():
      alphas.setdefault(key, {}).update(per_method)
  text = write_tables(workdir, title, rows, subsets)
  if figures:
    write_figures(workdir, val_sets, alphas, run_dirs, cfg.cache_dir)
  return text


def write_figures(workdir, val_sets, alphas, run_dirs, cache_dir):
  """Qualitative grids per validation image, loss curves, and response maps (Fig. 5-8)."""
  from matting import predict
  from matting.inputs import stacks
  from matting.reports import figures
  figure_dir = os.path.join(workdir, "figures")
  for set_name, examples in val_sets.items():
    for example in examples:
      figures.qualitative_grid(os.path.join(figure_dir, f"{set_name}_{example.name}.png"),
                               example.image, example.trimap, example.alpha,
                               alphas.get((set_name, example.name), {}),
                               title=f"{set_name} {example.name}")
  histories = {}
  for run_dir in run_dirs:
    path = os.path.join(run_dir, "history.json")
    if os.path.exists(path):
      with open(path) as f:
        histories[run_label(run_dir)[len("dcnn:"):]] = json.load(f)
  if histories:
    figures.loss_curves(os.path.join(figure_dir, "loss_curves.png"), histories)
  if run_dirs:
    params, cfg = predict.load_model(run_dirs[0])
    examples = next(iter(val_sets.values()))
    stack = stacks.example_stacks(examples[:1], cfg.inputs.combination, cache_dir)[0]
    figures.response_maps(os.path.join(figure_dir, "response_maps.png"), params, cfg.model,
                          _two_patches(*stack),
                          input_names=stacks.extra_channels(cfg.inputs.combination))


def _two_patches(stack, alpha, trimap):
  """Two 27x27 input patches at unknown pixels: the most and least transparent-looking."""
  from matting.inputs.patches import PATCH_IN, patch_centers
  centers = patch_centers(trimap, np.random.default_rng(0), max_per_image=512)
  values = alpha[centers[:, 0], centers[:, 1]]
  half = PATCH_IN // 2
  chosen = [centers[np.argmin(np.abs(values - 0.5))], centers[np.argmax(values)]]
  return [stack[r - half:r + half + 1, c - half:c + half + 1] for r, c in chosen]


def sweep_points(sweep, seeds=None):
  """[(overrides, run directory relative to the work directory)]: each sweep point once in
  POINT, or with `seeds` once per seed K in POINT/seed_K with cfg.seed = K."""
  if not seeds:
    return [(overrides, point_name(overrides)) for overrides in sweep]
  return [({**overrides, "seed": int(seed)}, os.path.join(point_name(overrides), f"seed_{seed}"))
          for overrides in sweep for seed in seeds]


def precompute_groups(cfg, points):
  """[(examples, classic methods)] whose mattes the points' runs read from the cache: each
  training run's composites (its combination's methods) and the evaluation sets (those plus
  the reported baselines). Classic experiments solve uncached and need none."""
  from matting.inputs import stacks, training_set
  groups, seen, splits_by_data = [], set(), {}
  for overrides, _ in points:
    point = apply_overrides(cfg, overrides)
    if point.kind == "classic":
      continue
    methods = stacks.classic_methods(point.inputs.combination)
    data_key = json.dumps(point.data.to_dict(), sort_keys=True, default=str)
    if point.kind == "train":
      key = json.dumps([data_key, point.augment.to_dict(), point.seed, methods],
                       sort_keys=True, default=str)
      if key not in seen:
        seen.add(key)
        if data_key not in splits_by_data:
          splits_by_data[data_key] = splits.split_examples(point.data)[0]
        groups.append((training_set.training_composites(splits_by_data[data_key],
                                                        point.augment, point.seed), methods))
    val_methods = tuple(dict.fromkeys(methods + BASELINES))
    key = json.dumps([data_key, val_methods, point.get("far", {}) and point.far.to_dict()],
                     sort_keys=True, default=str)
    if key not in seen:
      seen.add(key)
      groups += [(examples, val_methods) for examples in evaluation_sets(point).values()]
  return groups


def precompute_sweep(cfg, sweep, shard=(0, 1), seeds=None, progress=True):
  """Computes shard `shard` (index, count) of the classic mattes the sweep needs into
  cfg.cache_dir/mattes; returns the counts of classic.precompute.precompute."""
  from matting.classic import precompute
  groups = precompute_groups(cfg, sweep_points(sweep, seeds))
  return precompute.precompute(os.path.join(cfg.cache_dir, "mattes"), groups, shard,
                               progress=progress)


def _distributed_precompute(cfg, sweep, seeds):
  """Under jax.distributed: each process computes its process_index share of the missing
  mattes, and all meet at a barrier before training (none then computes any)."""
  import jax
  if jax.process_count() == 1:
    return
  from jax.experimental import multihost_utils

  from matting.classic import precompute
  counts = precompute_sweep(cfg, sweep, (jax.process_index(), jax.process_count()), seeds)
  logging.warning("%s", precompute.format_counts(counts))
  multihost_utils.sync_global_devices("matting: classic mattes precomputed")


def run_sweep(cfg, workdir, sweep, title, seeds=None):
  """Runs every sweep point in workdir/NAME (per seed in workdir/NAME/seed_K with `seeds`);
  training sweeps end with one report over all, written by process 0 of a multi-process run.
  """
  if cfg.kind not in RUNNERS:
    raise MattingInputError(f"unknown experiment kind {cfg.kind!r}; choose from "
                            f"{sorted(RUNNERS)}", field="kind")
  points = sweep_points(sweep, seeds)
  run_dirs = [os.path.normpath(os.path.join(workdir, name)) for _, name in points]
  main = True
  if cfg.kind == "train":
    from matting.training import sharding
    _distributed_precompute(cfg, sweep, seeds)
    main = sharding.is_main_process()
  text = ""
  for (overrides, _), run_dir in zip(points, run_dirs):
    text = RUNNERS[cfg.kind](apply_overrides(cfg, overrides), run_dir)
  if cfg.kind == "train":
    text = _sweep_report(cfg, workdir, run_dirs, title, main)
  return text


def _sweep_report(cfg, workdir, run_dirs, title, main):
  """The report over all runs, scored and written by process 0 alone (its checkpoint reads
  skip orbax's all-process barriers); the other processes wait for it at a barrier."""
  import jax

  from matting.training import checkpoints
  text = ""
  if main:
    with checkpoints.this_process_only():
      text = evaluate_runs(cfg, workdir, run_dirs, title, point_reports=len(run_dirs) > 1)
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils
    multihost_utils.sync_global_devices("matting: sweep report written")
  return text


def run_evaluate(cfg, workdir):
  """Batch-evaluates every training run and weights file under cfg.runs."""
  return evaluate_runs(cfg, workdir, find_runs(cfg.runs), "Checkpoint evaluation",
                       all_steps=cfg.all_steps)


RUNNERS = {"classic": run_classic, "train": run_train, "evaluate": run_evaluate}
