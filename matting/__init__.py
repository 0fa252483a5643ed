"""Deep CNN natural image matting (Cho, Tai, Kweon, ECCV 2016) with its classic inputs.

The classic path (I/O, closed-form and KNN matting, metrics, datasets) imports only
NumPy/SciPy so that batch scripts start fast; JAX is imported by the model modules only.
"""

from matting.errors import MattingInputError

__all__ = ["MattingInputError"]
__version__ = "0.1.0"
