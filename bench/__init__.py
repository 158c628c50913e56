"""The benchmark: ailicia-obs beside the naive way, in one run (``bash scripts/bench``)."""
