"""Memory budgets: parsing sizes like '4G', the default budget, and the up-front size checks.

The closed-form solve tiles its unknown region when one exact factorisation would not fit
`max_memory` (see closed_form.py). The budget decides the tiles, so it is fixed per machine
(a fraction of its RAM), never the memory free at the moment: the same command gives the
same matte however busy the machine is. What is free at the moment only decides whether a
solve may start (`require`): a solve, or an image whose decoded arrays, would not fit is
refused with a message naming the size and what to do, rather than left to the kernel's
OOM killer.
"""

import contextlib
import re

from matting.errors import MattingInputError

_UNITS = {"": 1, "B": 1, "K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30, "T": 2 ** 40}
DEFAULT_FRACTION = 0.5  # Of MemTotal: other processes keep the rest.
FALLBACK_BYTES = 4 * 2 ** 30  # Where /proc/meminfo is unreadable.


def parse_size(text, field="max_memory"):
  """Bytes from '4G', '800M', '1.5g', '512MiB' or a plain integer (binary units)."""
  if isinstance(text, (int, float)) and not isinstance(text, bool):
    value = float(text)
  else:
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgtKMGT]?)(i?[bB])?\s*", str(text))
    if not match:
      raise MattingInputError(f"cannot read {text!r} as a size; use e.g. 4G, 800M or bytes",
                              field=field)
    value = float(match.group(1)) * _UNITS[match.group(2).upper()]
  if value <= 0:
    raise MattingInputError(f"must be positive, got {text!r}", field=field)
  return int(value)


def format_size(num_bytes):
  """'3.2 GB' / '850 MB' (binary units, as parse_size reads them)."""
  if num_bytes >= 2 ** 30:
    return f"{num_bytes / 2 ** 30:.1f} GB"
  return f"{num_bytes / 2 ** 20:.0f} MB"


def _meminfo(field):
  """A field of /proc/meminfo in bytes, or None where it cannot be read."""
  try:
    with open("/proc/meminfo") as f:
      for line in f:
        if line.startswith(field + ":"):
          return int(line.split()[1]) * 1024
  except (OSError, ValueError, IndexError):
    pass
  return None


def available_bytes():
  """The memory available now (MemAvailable), or None where it cannot be read."""
  return _meminfo("MemAvailable")


def total_bytes():
  """The machine's RAM (MemTotal), or None where it cannot be read."""
  return _meminfo("MemTotal")


def default_max_memory():
  """The budget when none is given: half of the machine's RAM. Not of the memory available
  now, which would make the tiles, hence the matte, depend on the machine's load (GT26
  upscaled 3x: SAD 195.59 under a 1 GB budget, 197.95 under 2-11 GB; BUILD_NOTES.md)."""
  total = total_bytes()
  return FALLBACK_BYTES if total is None else int(DEFAULT_FRACTION * total)


def require(need, what, advice, field=None):
  """Raises MattingInputError '<what> needs about <need>, more than the <free> of memory
  available; <advice>' when `need` bytes exceed the memory available now (nothing where
  that cannot be read)."""
  available = available_bytes()
  if available is not None and need > available:
    raise MattingInputError(f"{what} needs about {format_size(need)}, more than the "
                            f"{format_size(available)} of memory available; {advice}",
                            field=field)


_scope = []  # Budgets set by `max_memory_scope`, innermost last (a plain list: solver threads
# of classic_alphas must see it, which a ContextVar would not).


@contextlib.contextmanager
def max_memory_scope(max_memory):
  """Makes `max_memory` (bytes, '4G', or None: no change) the budget of the solves inside,
  e.g. the CLI's --max-memory for everything one command runs."""
  if max_memory is None:
    yield
    return
  _scope.append(parse_size(max_memory))
  try:
    yield
  finally:
    _scope.pop()


_reserved = []  # Bytes promised to solves running beside the current one (`reserve`).


@contextlib.contextmanager
def reserve(num_bytes):
  """Counts `num_bytes` as taken while inside, for `room`: e.g. what a KNN solve in another
  thread will allocate while the closed-form solve sizes its pool of tile workers."""
  _reserved.append(int(num_bytes))
  try:
    yield
  finally:
    _reserved.remove(int(num_bytes))


def room(max_memory=None):
  """Bytes a solve may use now: its budget, at most what is available less the reservations
  (`reserve`). Only for choices that do not change a result, such as how many tile workers
  run at once."""
  budget = resolve_max_memory(max_memory)
  available = available_bytes()
  return budget if available is None else min(budget, available - sum(_reserved))


def resolve_max_memory(max_memory):
  """Bytes from an int or a string such as '4G'; None: the scope's budget, else the default."""
  if max_memory is not None:
    return parse_size(max_memory)
  return _scope[-1] if _scope else default_max_memory()


def avoid_huge_page_stalls():
  """Stops NumPy from asking for transparent huge pages for its large arrays (unless the
  NUMPY_MADVISE_HUGEPAGE variable says otherwise); the commands call it at start.

  With the kernel's default THP defrag setting ('madvise'), a page fault in such an array
  waits for memory compaction when free memory is fragmented (a full page cache): touching
  1 GB of fresh arrays took 10.3 s instead of 0.4 s, and a fresh `matting predict` of a 3 MP
  image spent 4.4 s of system time instead of 1.6 s (BUILD_NOTES.md, issue 11).
  """
  import os
  if "NUMPY_MADVISE_HUGEPAGE" in os.environ:
    return
  os.environ["NUMPY_MADVISE_HUGEPAGE"] = "0"  # Child processes read it when NumPy loads.
  try:
    from numpy._core import multiarray
  except ImportError:  # NumPy < 2.
    from numpy.core import multiarray
  multiarray._set_madvise_hugepage(False)
