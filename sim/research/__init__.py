"""The research tools behind ``far``, ``bench`` and ``corpus``: scoring, sweeps, protocols,
corpora and plots."""
