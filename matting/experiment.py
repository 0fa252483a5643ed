"""Runs one configured experiment point in a work directory (called by launch.py)."""

import os

from matting import evaluate, report, train_data

CLASSIC_COLUMNS = ("method", "images", "sad", "mse", "grad", "conn", "seconds")
ROW_COLUMNS = ("image", "method", "sad", "mse", "grad", "conn", "seconds")


def run_classic(cfg, workdir):
  """Scores the classic methods on every validation set; writes report.md/.csv/.json."""
  methods = evaluate.available_methods(cfg.methods, cfg.include_pymatting)
  sections, all_rows = [], []
  for set_name, examples in train_data.split_examples(cfg.data)[1].items():
    rows = evaluate.score_classic(examples, methods, params=cfg.params.to_dict())
    for row in rows:
      row["set"] = set_name
    all_rows.extend(rows)
    summary = report.mean_rows(rows, "method", report.METRIC_KEYS + ("seconds",))
    sections.append(f"## {set_name} ({len(examples)} images, mean over images)\n\n"
                    + report.markdown_table(summary, CLASSIC_COLUMNS) + "\n\n### Per image\n\n"
                    + report.markdown_table(rows, ROW_COLUMNS))
  text = "# Classic mattes\n\n" + "\n\n".join(sections) + "\n"
  report.ensure_dir(workdir)
  report.write_text(os.path.join(workdir, "report.md"), text)
  report.write_csv(os.path.join(workdir, "results.csv"), all_rows, ("set",) + ROW_COLUMNS)
  report.write_json(os.path.join(workdir, "results.json"), all_rows)
  return text


def run_train(cfg, workdir):
  """Trains one DCNN configuration (resuming if interrupted); returns its report text."""
  from matting import train  # JAX is imported only by the training path.
  result = train.train_and_evaluate(cfg, workdir, cfg.cache_dir)
  rows = [{"set": name, **values} for name, values in result["final"].items()
          if isinstance(values, dict)]
  text = (f"# DCNN {cfg.inputs.combination}, {cfg.model.num_remap_layers} remap layers\n\n"
          f"final step {result['final_step']}, best step {result['best_step']}, "
          f"{result['train_patches']} training patches\n\n"
          + report.markdown_table(rows, ("set", "val_loss") + report.METRIC_KEYS + ("seconds",))
          + "\n")
  report.write_text(os.path.join(workdir, "report.md"), text)
  return text


RUNNERS = {"classic": run_classic, "train": run_train}


def run(cfg, workdir):
  """Dispatches on cfg.kind; returns the report text."""
  if cfg.kind not in RUNNERS:
    raise ValueError(f"config.kind: unknown experiment kind {cfg.kind!r}")
  return RUNNERS[cfg.kind](cfg, workdir)
