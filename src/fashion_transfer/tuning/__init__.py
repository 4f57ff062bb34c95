"""Equal-effort tuning: trials drawn reproducibly from a declared search space (no torch import)."""
