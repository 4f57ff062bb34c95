"""Data sets as in-memory (or memory-mapped) uint8 image sources plus labels."""
