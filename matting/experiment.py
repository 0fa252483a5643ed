"""Runs an experiment's sweep in a work directory and writes its reports (called by launch.py).

Kinds: 'classic' scores the classic mattes; 'train' trains one DCNN per sweep point (a point
that already finished is skipped, an interrupted one resumes) and then writes a sweep report
with the classic baselines; 'evaluate' batch-evaluates every checkpoint under given work
directories on the validation sets, reusing the cached classic mattes.
"""

import json
import os

from absl import logging

from matting import evaluate, report, train_data
from matting.errors import MattingInputError

CLASSIC_COLUMNS = ("method", "images", "sad", "mse", "grad", "conn", "seconds")
ROW_COLUMNS = ("image", "method", "sad", "mse", "grad", "conn", "seconds")
SUMMARY_COLUMNS = ("set", "method", "images", "sad", "mse", "grad", "conn", "seconds")


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


def write_tables(workdir, title, rows, summary, columns=SUMMARY_COLUMNS):
  """report.md (mean table then per-image rows), results.csv and results.json."""
  text = (f"# {title}\n\n## Mean over images\n\n" + report.markdown_table(summary, columns)
          + "\n\n## Per image\n\n"
          + report.markdown_table(rows, ("set",) + ROW_COLUMNS) + "\n")
  report.ensure_dir(workdir)
  report.write_text(os.path.join(workdir, "report.md"), text)
  report.write_csv(os.path.join(workdir, "results.csv"), rows, ("set",) + ROW_COLUMNS)
  report.write_json(os.path.join(workdir, "results.json"), {"summary": summary, "rows": rows})
  return text


def summarize(rows):
  """Mean metrics per (set, method), keeping first-seen order."""
  keyed = [dict(r, key=(r["set"], r["method"])) for r in rows]
  out = []
  for row in report.mean_rows(keyed, "key", report.METRIC_KEYS + ("seconds",)):
    set_name, method = row.pop("key")
    out.append({"set": set_name, "method": method, **row})
  return out


def run_classic(cfg, workdir):
  """Scores the classic methods on every validation set."""
  methods = evaluate.available_methods(cfg.methods, cfg.include_pymatting)
  rows = []
  for set_name, examples in train_data.split_examples(cfg.data)[1].items():
    rows += [dict(r, set=set_name) for r in
             evaluate.score_classic(examples, methods, params=cfg.params.to_dict())]
  return write_tables(workdir, "Classic mattes", rows, summarize(rows))


def _finished(workdir, cfg):
  path = os.path.join(workdir, "result.json")
  if not os.path.exists(path):
    return False
  with open(path) as f:
    return json.load(f).get("final_step") == cfg.train.steps


def run_train(cfg, workdir):
  """Trains one DCNN configuration unless it already finished; returns its report text."""
  from matting import train  # JAX is imported only by the training path.
  if _finished(workdir, cfg):
    logging.info("%s already finished; skipping", workdir)
  else:
    train.train_and_evaluate(cfg, workdir, cfg.cache_dir)
  return evaluate_runs(cfg, workdir, [workdir], title=f"DCNN {os.path.basename(workdir)}",
                       figures=False)


def evaluate_runs(cfg, workdir, run_dirs, title, figures=True, all_steps=False):
  """Scores trained runs (best checkpoint, or every one) and the classic baselines."""
  from matting import model_eval
  val_sets = train_data.split_examples(cfg.data)[1]
  rows, alphas = model_eval.score_baselines(val_sets, cfg.cache_dir)
  for run_dir in run_dirs:
    run_rows, run_alphas = model_eval.score_run(run_dir, val_sets, cfg.cache_dir, all_steps)
    rows += run_rows
    for key, per_method in run_alphas.items():
      alphas.setdefault(key, {}).update(per_method)
  text = write_tables(workdir, title, rows, summarize(rows))
  if figures:
    model_eval.write_figures(workdir, val_sets, alphas, run_dirs, cfg.cache_dir)
  return text


def run_sweep(cfg, workdir, sweep, title):
  """Runs every sweep point in workdir/NAME; training sweeps end with one report over all."""
  run_dirs = [os.path.normpath(os.path.join(workdir, point_name(o))) for o in sweep]
  text = ""
  for overrides, run_dir in zip(sweep, run_dirs):
    text = run(apply_overrides(cfg, overrides), run_dir)
  if cfg.kind == "train":
    text = evaluate_runs(cfg, workdir, run_dirs, title)
  return text


def run_evaluate(cfg, workdir):
  """Batch-evaluates every training run found under cfg.runs on the validation sets."""
  from matting import model_eval
  run_dirs = model_eval.find_runs(cfg.runs)
  return evaluate_runs(cfg, workdir, run_dirs, "Checkpoint evaluation",
                       all_steps=cfg.all_steps)


RUNNERS = {"classic": run_classic, "train": run_train, "evaluate": run_evaluate}


def run(cfg, workdir):
  """Dispatches on cfg.kind; returns the report text."""
  if cfg.kind not in RUNNERS:
    raise MattingInputError(f"--config.kind: unknown experiment kind {cfg.kind!r}")
  return RUNNERS[cfg.kind](cfg, workdir)
