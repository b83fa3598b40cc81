"""One module of exercise checks per chapter; importing this package registers them all."""

from . import (
    ch01,  # noqa: F401
    ch02,  # noqa: F401
    ch03,  # noqa: F401
    ch04,  # noqa: F401
    ch05,  # noqa: F401
    ch06,  # noqa: F401
    ch07,  # noqa: F401
    ch08,  # noqa: F401
)
