"""What a run shows on the terminal: a progress bar, and quiet third-party loggers.

`Progress` redraws one line in place when stderr is a terminal and prints one line per update
otherwise (so logs and CI output stay readable). `quiet_library_logs` keeps the checkpoint
library and other third-party loggers at WARNING unless a more verbose level is asked for.
"""

import logging
import math
import os
import sys
import time

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
# Loggers of libraries that report every save, restore or compile at INFO.
LIBRARY_LOGGERS = ("orbax", "jax", "tensorstore", "etils", "flax", "matplotlib", "PIL")


class _OwnRecordsBelowWarning(logging.Filter):
  """Passes WARNING and above from anywhere, lower levels only from this project's code.

  orbax logs through absl, whose records all arrive on one logger; the file that logged a
  record is the only thing that tells ours (matting/, launch.py) from the library's.
  """

  def filter(self, record):
    if record.levelno >= logging.WARNING:
      return True
    path = os.path.abspath(record.pathname)
    return path.startswith(PACKAGE_DIR + os.sep) or os.path.basename(path) == "launch.py"


def quiet_library_logs(verbose=False):
  """Third-party log records below WARNING are dropped unless `verbose`; ours are kept."""
  level = logging.INFO if verbose else logging.WARNING
  for name in LIBRARY_LOGGERS:
    logging.getLogger(name).setLevel(level)
  handlers = list(logging.getLogger().handlers)
  try:
    from absl import logging as absl_logging
    handlers.append(absl_logging.get_absl_handler())
  except ImportError:
    pass
  for handler in handlers:
    for old in [f for f in handler.filters if isinstance(f, _OwnRecordsBelowWarning)]:
      handler.removeFilter(old)
    if not verbose:
      handler.addFilter(_OwnRecordsBelowWarning())



def _duration(seconds):
  if not math.isfinite(seconds):
    return "--:--"
  seconds = int(round(seconds))
  hours, rest = divmod(seconds, 3600)
  minutes = f"{rest // 60:02d}:{rest % 60:02d}"
  return f"{hours}:{minutes}" if hours else minutes


class Progress:
  """done/total with a bar, elapsed time and ETA, for long loops; written to stderr.

  On a terminal the line is redrawn in place (and ended by `close` or the last update);
  elsewhere each update is one line, at most one every `min_interval` seconds (default 3 s,
  so logs stay short) plus the last one.
  """

  def __init__(self, total, label, stream=None, min_interval=None, width=24):
    self.total, self.label, self.width = max(int(total), 0), label, width
    self.stream = stream or sys.stderr
    self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
    self.min_interval = (0.1 if self.tty else 3.0) if min_interval is None else min_interval
    self.start = time.perf_counter()
    self._last = -math.inf
    self._open = False

  def line(self, done, extra=""):
    """The progress text for `done` of `total` items."""
    elapsed = time.perf_counter() - self.start
    eta = elapsed / done * (self.total - done) if done else math.inf
    filled = min(self.width, int(self.width * done / self.total)) if self.total else self.width
    bar = "#" * filled + "." * (self.width - filled)
    text = (f"[{self.label}] [{bar}] {done}/{self.total} {_duration(elapsed)} "
            f"ETA {_duration(eta)}")
    return f"{text}  {extra}" if extra else text

  def update(self, done, extra=""):
    """Reports `done` items; the last one (done >= total) always prints and ends the line."""
    now = time.perf_counter()
    last = done >= self.total
    if not last and now - self._last < self.min_interval:
      return
    self._last = now
    if self.tty:
      self.stream.write("\r\x1b[2K" + self.line(done, extra) + ("\n" if last else ""))
      self._open = not last
    else:
      self.stream.write(self.line(done, extra) + "\n")
    self.stream.flush()

  def close(self):
    """Ends a line left open on a terminal (e.g. when a loop stops early)."""
    if self._open:
      self.stream.write("\n")
      self.stream.flush()
      self._open = False
