"""The package's exception for bad user input (files, values, config fields), and range checks."""

import math
import numbers


class MattingInputError(ValueError):
  """Bad input: a missing/undecodable file, a size mismatch, an unusable trimap, NaN, a bad value.

  The message names the offending file or value. `field` optionally names the parameter or
  config field it came from ('background', 'train.steps'); the CLI and launch.py turn that
  into their flag name (--background, --config.train.steps) and exit with status 2.
  """

  def __init__(self, message, field=None):
    super().__init__(message)
    self.field = field

  def __reduce__(self):  # Keeps `field` when a worker process sends the error back.
    return type(self), (str(self), self.field)


def cli_message(error):
  """The `matting` command's one-line message for an error: led by `--FIELD` when it has one."""
  field = getattr(error, "field", None)
  return f"--{field.replace('_', '-')} {error}" if field else str(error)


def out_of_range(value, low=None, high=None, integer=False, low_open=False, high_open=False):
  """What is wrong with a numeric parameter ('must be an integer >= 1, got 0'), or None.

  Bools, strings, NaN and infinities are refused; `low` / `high` are inclusive unless
  `low_open` / `high_open`. Shared by config checks and the library's own parameter checks,
  so that both say it the same way.
  """
  number = isinstance(value, numbers.Real) and not isinstance(value, bool)
  ok = number and math.isfinite(value) and (not integer or float(value).is_integer())
  if ok and low is not None:
    ok = value > low if low_open else value >= low
  if ok and high is not None:
    ok = value < high if high_open else value <= high
  if ok:
    return None
  if integer and low is not None and not (low_open or high_open):
    bound = f" >= {low}" if high is None else f" in [{low}, {high}]"
    return f"must be an integer{bound}, got {value!r}"
  parts = []
  if low is not None:
    parts.append(f"{'>' if low_open else '>='} {low:g}")
  if high is not None:
    parts.append(f"{'<' if high_open else '<='} {high:g}")
  bound = f" {' and '.join(parts)}" if parts else ""
  return f"must be {'an integer' if integer else 'a finite number'}{bound}, got {value!r}"


def check_range(name, value, low=None, high=None, integer=False, low_open=False,
                high_open=False):
  """Raises MattingInputError('name: must be ...') when `out_of_range` finds a problem."""
  problem = out_of_range(value, low, high, integer, low_open, high_open)
  if problem:
    raise MattingInputError(f"{name}: {problem}")
