"""The package's exception for bad user input (files, values, config fields)."""


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
