"""The audit of the four source notes, one ledger per seed (``shared/seeds/``, read-only).

Each module transcribes one note's formulas and prose claims with their line numbers and
audits them: :mod:`.seed000`, :mod:`.seed001`, :mod:`.seed002` (formulas and claims outside the
equality chains, which live in :mod:`verification.symbolic.seed_chains`), :mod:`.seed003_model`
(lines 1-87) and :mod:`.seed003_bound` (lines 88-215). :mod:`.oracles` holds the small exact
models the checks compute on.
"""
