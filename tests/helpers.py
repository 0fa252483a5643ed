"""One way for tests to run the project's commands in a fresh process."""

import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]


def run_command(*args, timeout=600, env=None, cwd=REPO):
  """Runs `python ARGS...` (e.g. 'launch.py', ... or '-m', 'matting.cli', ...) from the repo
  root and returns the CompletedProcess with text stdout/stderr."""
  full_env = dict(os.environ, **(env or {}))
  return subprocess.run([sys.executable, *map(str, args)], cwd=cwd, env=full_env,
                        capture_output=True, text=True, timeout=timeout)


def run_launch(*args, **kwargs):
  """`python launch.py ARGS...`."""
  return run_command("launch.py", *args, **kwargs)


def run_cli(*args, **kwargs):
  """`python -m matting.cli ARGS...` (the `matting` command)."""
  return run_command("-m", "matting.cli", *args, **kwargs)
