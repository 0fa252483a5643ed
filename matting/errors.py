"""The package's exception for bad user input (files, flags, arrays)."""


class MattingInputError(ValueError):
  """Bad input: a missing/undecodable file, a size mismatch, an unusable trimap, NaN.

  The message names the offending file or flag; the CLI turns it into exit status 2.
  """
