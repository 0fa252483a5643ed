"""Worker processes that solve closed-form tiles concurrently (`closed_form._tiled_alpha`).

The exact factorisation holds the GIL most of the time (its many small fronts), so threads
do not overlap; processes do. Workers are fresh interpreters (`python -m
matting.classic.tile_workers`) fed pickled tasks on stdin and answering on stdout: nothing
is forked from the caller (whose other threads, e.g. KNN's, may hold locks) and the caller's
__main__ is never re-imported (as multiprocessing's spawn and forkserver methods do, which
would re-run an unguarded user script). A task may run in two stages (`WorkerPool.map`'s
`later`): a tile's factorisation first, its solve once the caller has the ring values.
"""

import os
import pickle
import signal
import struct
import subprocess
import sys
import threading

_HEADER = struct.Struct("<Q")
# glibc's allocator in the workers keeps freed memory for the next tile instead of returning
# it and faulting it in again (a worker's peak is one tile's either way): GT26 upscaled 2x,
# 4 tiles on 2 workers, the workers' system CPU 1.4-1.9 s -> 0.7 s (BUILD_NOTES.md, issue 11).
# Ignored by other C libraries; a value in the caller's environment wins.
KEEP_FREED_MEMORY = {"MALLOC_MMAP_THRESHOLD_": str(4 << 30),
                     "MALLOC_TRIM_THRESHOLD_": str(4 << 30),
                     "MALLOC_TOP_PAD_": str(256 << 20)}


def _send(stream, obj):
  data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
  stream.write(_HEADER.pack(len(data)))
  stream.write(data)
  stream.flush()


def _receive(stream):
  header = stream.read(_HEADER.size)
  if len(header) < _HEADER.size:
    raise EOFError
  (size,) = _HEADER.unpack(header)
  return pickle.loads(stream.read(size))


class WorkerPool:
  """`count` worker processes; `map(function, tasks)` runs function(*task) on them.

  `function` must be importable by name (module-level); `preload` is a module the workers
  import while the caller does other work. Use as a context manager.
  """

  def __init__(self, count, preload):
    import matting
    root = os.path.dirname(os.path.dirname(os.path.abspath(matting.__file__)))
    env = {**KEEP_FREED_MEMORY, **os.environ}
    env["PYTHONPATH"] = os.pathsep.join(
        [root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    self._workers = [subprocess.Popen([sys.executable, "-m", __name__, preload],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
                     for _ in range(count)]
    self.count = count

  def map(self, function, tasks, later=None):
    """[function(*task) for task in tasks], the tasks shared out among the workers; a
    worker's exception is re-raised here; a worker that dies raises MemoryError when it was
    SIGKILLed (the kernel's OOM killer) and RuntimeError otherwise.

    With `later` (index -> tuple of arguments; it may block, e.g. until another thread has
    computed them), function(*task) returns a callable that stays in the worker, and the
    result is that callable(*later(index)): the first stage runs while the caller prepares
    what the second needs. An exception from `later` ends the map with that exception.
    """
    tasks = list(tasks)
    results, errors = [None] * len(tasks), []
    lock = threading.Lock()
    pending = iter(range(len(tasks)))

    def call(worker, message):
      try:
        _send(worker.stdin, message)
        return _receive(worker.stdout)
      except (EOFError, BrokenPipeError, OSError):
        code = worker.wait()
        errors.append(MemoryError("a closed-form tile worker was killed (SIGKILL: the "
                                  "kernel's out-of-memory killer?)")
                      if code == -signal.SIGKILL else
                      RuntimeError(f"a closed-form tile worker exited with status {code}"))
        return False, None

    def feed(worker):
      while not errors:
        with lock:
          index = next(pending, None)
        if index is None:
          return
        ok, value = call(worker, (function, tasks[index], later is not None))
        if ok and later is not None:
          try:
            arguments = later(index)
          except BaseException as e:  # Raised in the caller; the worker drops its stage.
            errors.append(e)
            return
          ok, value = call(worker, (None, arguments, False))
        if not ok:
          if value is not None:
            errors.append(value)
          return
        results[index] = value

    threads = [threading.Thread(target=feed, args=(w,), daemon=True) for w in self._workers]
    for thread in threads:
      thread.start()
    for thread in threads:
      thread.join()
    if errors:
      raise errors[0]
    return results

  def close(self, kill=False):
    """Ends the workers: at once with `kill` (an error or Ctrl-C in the caller), else after
    their current task."""
    for worker in self._workers:
      if kill:
        worker.kill()
      try:
        worker.stdin.close()
      except OSError:
        pass
    for worker in self._workers:
      worker.wait()

  def __enter__(self):
    return self

  def __exit__(self, exc_type, *_):
    self.close(kill=exc_type is not None)


def _serve(stdin, stdout):
  """The worker's loop until EOF: (function, args, keep) in, (ok, result or exception) out.
  keep: the result (a callable) stays here and None goes back; a later (None, args, False)
  calls it with args and sends that result."""
  held = None
  while True:
    try:
      function, args, keep = _receive(stdin)
    except EOFError:
      return
    try:
      value = (held if function is None else function)(*args)
      held = value if keep else None
      reply = (True, None if keep else value)
    except Exception as e:  # Sent back and raised in the caller.
      held, reply = None, (False, e)
    _send(stdout, reply)


if __name__ == "__main__":
  import importlib
  replies = os.fdopen(os.dup(1), "wb")
  os.dup2(2, 1)  # Anything printed goes to stderr, not into the replies.
  importlib.import_module(sys.argv[1])
  _serve(sys.stdin.buffer, replies)
