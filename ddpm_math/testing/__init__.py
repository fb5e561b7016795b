"""Public test helpers: tolerances, hypothesis strategies, oracles. Imports hypothesis lazily
only in ``strategies``; the rest needs nothing beyond the runtime dependencies."""
