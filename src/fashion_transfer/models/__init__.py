"""Models share one interface (docs/CONTRACTS.md): float [0, 1] input, normalisation inside."""
