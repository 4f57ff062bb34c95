"""The training loop as small functions: batches, epochs, stages, checkpoints, metrics."""
