"""One module of exercise checks per chapter; importing this package registers them all."""

from . import ch01, ch06  # noqa: F401
