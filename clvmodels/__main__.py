"""``python -m clvmodels`` is the ``clvmodels`` command."""

from .cli import main

raise SystemExit(main())
