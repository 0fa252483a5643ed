"""Worker processes that solve closed-form tiles concurrently (`closed_form._tiled_alpha`).

The exact factorisation holds the GIL most of the time (its many small fronts), so threads
do not overlap; processes do. Workers are fresh interpreters (`python -m
matting.classic.tile_workers`) fed pickled tasks on stdin and answering on stdout: nothing
is forked from the caller (whose other threads, e.g. KNN's, may hold locks) and the caller's
__main__ is never re-imported (as multiprocessing's spawn and forkserver methods do, which
would re-run an unguarded user script).
"""

import os
import pickle
import signal
import struct
import subprocess
import sys
import threading

_HEADER = struct.Struct("<Q")


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
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    self._workers = [subprocess.Popen([sys.executable, "-m", __name__, preload],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
                     for _ in range(count)]

  def map(self, function, tasks):
    """[function(*task) for task in tasks], the tasks shared out among the workers; a
    worker's exception is re-raised here; a worker that dies raises MemoryError when it was
    SIGKILLed (the kernel's OOM killer) and RuntimeError otherwise."""
    tasks = list(tasks)
    results, errors = [None] * len(tasks), []
    lock = threading.Lock()
    pending = iter(range(len(tasks)))

    def feed(worker):
      while not errors:
        with lock:
          index = next(pending, None)
        if index is None:
          return
        try:
          _send(worker.stdin, (function, tasks[index]))
          ok, value = _receive(worker.stdout)
        except (EOFError, BrokenPipeError, OSError):
          code = worker.wait()
          errors.append(MemoryError("a closed-form tile worker was killed (SIGKILL: the "
                                    "kernel's out-of-memory killer?)")
                        if code == -signal.SIGKILL else
                        RuntimeError(f"a closed-form tile worker exited with status {code}"))
          return
        if not ok:
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
  """The worker's loop: (function, args) in, (ok, result or exception) out, until EOF."""
  while True:
    try:
      function, args = _receive(stdin)
    except EOFError:
      return
    try:
      reply = (True, function(*args))
    except Exception as e:  # Sent back and raised in the caller.
      reply = (False, e)
    _send(stdout, reply)


if __name__ == "__main__":
  import importlib
  replies = os.fdopen(os.dup(1), "wb")
  os.dup2(2, 1)  # Anything printed goes to stderr, not into the replies.
  importlib.import_module(sys.argv[1])
  _serve(sys.stdin.buffer, replies)
