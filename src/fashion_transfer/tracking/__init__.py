"""Experiment tracking. `wandb_run` is the only module that imports wandb."""
