"""Result tables: Markdown for people, CSV for scripts, written atomically."""

import csv
import math

import numpy as np

from matting.data.io import atomic_path

METRIC_KEYS = ("sad", "mse", "grad", "conn")


def format_value(value):
  if isinstance(value, float):
    if math.isnan(value):
      return "–"
    return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
  return str(value)


def markdown_table(rows, columns):
  """Renders dict rows as a Markdown table with the given column order."""
  lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
  for row in rows:
    lines.append("| " + " | ".join(format_value(row.get(c, "")) for c in columns) + " |")
  return "\n".join(lines)


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
