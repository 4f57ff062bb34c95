"""From finished (or failed) runs to tables, figures and a self-contained HTML report.

`collect` turns run folders and W&B runs into one DataFrame, `stats` computes means and
confidence intervals over seeds, `figures` draws the charts, `report` writes summary.md and
report.html. The entrypoint `fashion_transfer.analyze` strings them together.
"""
