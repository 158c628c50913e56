"""``python -m bench`` (what ``bash scripts/bench`` runs)."""

import sys

from .run import main

sys.exit(main())
