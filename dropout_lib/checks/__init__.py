"""One module of exercise checks per chapter; importing this package registers them all."""

from . import ch01, ch07  # noqa: F401
