"""The benchmark of issue 6: ailicia-obs beside the naive way, in one run (``bash scripts/bench``)."""
