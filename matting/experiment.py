"""Runs one configured experiment point in a work directory (called by launch.py)."""

import os

from matting import datasets, evaluate, report

CLASSIC_COLUMNS = ("method", "images", "sad", "mse", "grad", "conn", "seconds")
ROW_COLUMNS = ("image", "method", "sad", "mse", "grad", "conn", "seconds")


def load_validation_sets(data_cfg):
  """Returns {set name: [Example]}: one set per trimap kind for real data, else synthetic."""
  if data_cfg.dir:
    names = list(data_cfg.names) or None
    return {f"alphamatting_{trimap}": datasets.load_alphamatting(data_cfg.dir, trimap=trimap,
                                                                 names=names)
            for trimap in data_cfg.trimaps}
  syn = data_cfg.synthetic
  return {"synthetic": datasets.synthetic_set(seed=syn.seed, num=syn.num, height=syn.height,
                                              width=syn.width, unknown_width=syn.unknown_width)}


def run_classic(cfg, workdir):
  """Scores the classic methods on every validation set; writes report.md/.csv/.json."""
  methods = evaluate.available_methods(cfg.methods, cfg.include_pymatting)
  sections, all_rows = [], []
  for set_name, examples in load_validation_sets(cfg.data).items():
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


RUNNERS = {"classic": run_classic}


def run(cfg, workdir):
  """Dispatches on cfg.kind; returns the report text."""
  if cfg.kind not in RUNNERS:
    raise ValueError(f"config.kind: unknown experiment kind {cfg.kind!r}")
  return RUNNERS[cfg.kind](cfg, workdir)
