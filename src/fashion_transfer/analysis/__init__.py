"""From finished (or failed) runs to tables, figures and a self-contained HTML report.

`collect` turns run folders into one DataFrame (one row per run, failed ones included) and
`wandb_source` does the same for W&B offline folders and the W&B API; `stats` computes means
and Student-t confidence intervals over seeds; `figures` and `figures_detail` draw the charts;
`report` writes summary.md and report.html. The entrypoint `fashion_transfer.analyze` strings
them together.
"""
