"""Rules: conditions on a processed document and its results, then actions (move, copy, rename, tag, run, notify)."""
