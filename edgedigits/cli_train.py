"""`edgedigits train` and `edgedigits archs` (filled in with the trainer)."""
