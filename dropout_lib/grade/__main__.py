"""`python -m dropout_lib.grade`: see `dropout_lib.grade.cli`."""

from .cli import main

raise SystemExit(main())
