"""Result tables: Markdown for people, CSV/JSON for scripts, all written atomically."""

import csv
import json
import math
import os
import sys
import time

import numpy as np

from matting.io import atomic_path

METRIC_KEYS = ("sad", "mse", "grad", "conn")


def format_value(value):
  if isinstance(value, float):
    if math.isnan(value):
      return "nan"
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


def write_json(path, obj):
  with atomic_path(path) as tmp:
    with open(tmp, "w") as f:
      json.dump(obj, f, indent=2, sort_keys=True)
      f.write("\n")


def write_text(path, text):
  with atomic_path(path) as tmp:
    with open(tmp, "w") as f:
      f.write(text)


class Progress:
  """One-line progress reports (done/total, rate, ETA) on stderr for long loops."""

  def __init__(self, total, label, stream=None):
    self.total, self.label = total, label
    self.stream = stream or sys.stderr
    self.start = time.perf_counter()

  def update(self, done, extra=""):
    elapsed = time.perf_counter() - self.start
    eta = elapsed / done * (self.total - done) if done else float("nan")
    print(f"[{self.label}] {done}/{self.total}  elapsed {elapsed:.1f}s  ETA {eta:.1f}s  {extra}",
          file=self.stream, flush=True)


def ensure_dir(path):
  os.makedirs(path, exist_ok=True)
  return path
