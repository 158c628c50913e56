"""``python -m ailicia_core``: the command line (see :mod:`ailicia_core.cli`)."""

import sys

from .cli import main

sys.exit(main())
