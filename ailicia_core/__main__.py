"""``python -m ailicia_core``: the command line (see :mod:`ailicia_core.cli`)."""

import sys

from .vendoring import use_vendored_beside_package

# From the unzipped release, the zip's own requests & co. come first, with no PYTHONPATH.
use_vendored_beside_package()

from .cli import main  # noqa: E402  (after the vendored folder is on the path)

sys.exit(main())
