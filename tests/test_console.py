"""The progress bar (in place on a terminal, rate-limited lines elsewhere) and log quieting."""

import io
import logging

from matting import console


class FakeTerminal(io.StringIO):
  def isatty(self):
    return True


def test_progress_redraws_in_place_on_a_terminal():
  stream = FakeTerminal()
  meter = console.Progress(3, "job", stream=stream, min_interval=0)
  for done in (1, 2, 3):
    meter.update(done, f"item {done}")
  text = stream.getvalue()
  assert text.count("\r") == 3 and text.count("\n") == 1 and text.endswith("item 3\n")
  assert "[job] [########################] 3/3" in text


def test_progress_prints_lines_when_not_a_terminal_and_always_the_last():
  stream = io.StringIO()
  meter = console.Progress(100, "job", stream=stream, min_interval=3600)
  for done in range(1, 101):
    meter.update(done)
  lines = stream.getvalue().splitlines()
  assert len(lines) == 2 and lines[0].startswith("[job] [") and " 100/100 " in lines[1]
  assert "\r" not in stream.getvalue()


def test_close_ends_an_open_terminal_line():
  stream = FakeTerminal()
  meter = console.Progress(10, "job", stream=stream, min_interval=0)
  meter.update(4)
  meter.close()
  assert stream.getvalue().endswith("\n") and "ETA" in stream.getvalue()


def test_library_info_records_are_dropped_ours_kept():
  stream = io.StringIO()
  handler = logging.StreamHandler(stream)
  root = logging.getLogger()
  root.addHandler(handler)
  try:
    console.quiet_library_logs()
    library = logging.LogRecord("orbax", logging.INFO, "/site-packages/orbax/x.py", 1,
                                "saved step", None, None)
    ours = logging.LogRecord("absl", logging.INFO, console.PACKAGE_DIR + "/runner.py", 1,
                             "ours", None, None)
    warning = logging.LogRecord("orbax", logging.WARNING, "/site-packages/orbax/x.py", 1,
                                "careful", None, None)
    for record in (library, ours, warning):
      handler.handle(record)
    assert stream.getvalue().split() == ["ours", "careful"]
    console.quiet_library_logs(verbose=True)
    handler.handle(library)
    assert "saved step" in stream.getvalue()
  finally:
    root.removeHandler(handler)
