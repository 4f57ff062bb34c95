"""Operations on sweeps and runs that already exist: their state, how to resume them (no torch)."""
