"""One module of exercise checks per chapter; importing this package registers them all."""

from . import ch01, ch03  # noqa: F401
