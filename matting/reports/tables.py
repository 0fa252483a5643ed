"""Result tables: Markdown for people, CSV for scripts, written atomically."""

import csv
import math
import re

import numpy as np

from matting.data.io import atomic_path

METRIC_KEYS = ("sad", "mse", "grad", "conn")


def format_value(value):
  if isinstance(value, float):
    if math.isnan(value):
      return "–"
    return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
  return str(value)


def markdown_table(rows, columns, spread=False):
  """Renders dict rows as a Markdown table with the given column order; with `spread`, a
  column whose KEY_std is in the row reads 'mean ± std'."""
  def cell(row, column):
    text = format_value(row.get(column, ""))
    if spread and f"{column}_std" in row:
      text += f" ± {format_value(row[f'{column}_std'])}"
    return text
  lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
  for row in rows:
    lines.append("| " + " | ".join(cell(row, c) for c in columns) + " |")
  return "\n".join(lines)


SEED_METHOD = re.compile(r"(.+)/seed_(-?[0-9]+)")


def seed_rows(summary, value_keys):
  """Per (set, method) over seeds: the mean and sample standard deviation (ddof=1; 0 for one
  seed) of each of `value_keys` over the per-seed means of summary rows whose method is
  'NAME/seed_K' (runner.sweep_points), as KEY and KEY_std; [] when no method is seeded."""
  groups = {}
  for row in summary:
    match = SEED_METHOD.fullmatch(str(row["method"]))
    if match:
      groups.setdefault((row["set"], match.group(1)), []).append(row)
  out = []
  for (set_name, method), members in groups.items():
    entry = {"set": set_name, "method": method, "seeds": len(members),
             "images": members[0].get("images", "")}
    for key in value_keys:
      values = np.asarray([m[key] for m in members], float)
      values = values[~np.isnan(values)]
      entry[key] = float(values.mean()) if len(values) else math.nan
      entry[f"{key}_std"] = float(values.std(ddof=1)) if len(values) > 1 else (
          0.0 if len(values) else math.nan)
    out.append(entry)
  return out


def mean_rows(rows, group_key, value_keys):
  """Averages `value_keys` over rows sharing `group_key`; keeps first-seen group order."""
  groups = {}
  for row in rows:
    groups.setdefault(row[group_key], []).append(row)
  return [{group_key: key, "images": len(members),
           **{k: float(np.mean([m[k] for m in members])) for k in value_keys}}
          for key, members in groups.items()]


def write_csv(path, rows, columns):
  with atomic_path(path) as tmp:
    with open(tmp, "w", newline="") as f:
      writer = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
      writer.writeheader()
      writer.writerows(rows)
