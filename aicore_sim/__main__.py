"""``python -m aicore_sim``: see :mod:`aicore_sim.cli`."""

from aicore_sim.cli import main

raise SystemExit(main())
