"""``python -m ailicia_core.sandbox``: serve a local ai_licia until Ctrl+C."""

import sys

from .cli import main

sys.exit(main())
