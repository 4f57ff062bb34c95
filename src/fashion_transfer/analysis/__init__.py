"""From finished (or failed) runs to tables, figures and a self-contained HTML report.

`collect` turns run folders into one DataFrame (one row per run, failed ones included; each run's
metrics.json read through `fashion_transfer.record`) and `wandb_source` does the same for W&B
offline folders and the W&B API, both through `rows`' row builder; `stats` computes means
and Student-t confidence intervals over seeds; `comparisons` pairs strategies over matched seeds
(t and bootstrap intervals of their differences) and `selection` applies the model-selection
protocols to the per-epoch history; the `figures` package draws
the charts; `report` (with `report_compare`'s sections) writes summary.md and report.html, and
`readme_demo` the README's demo section. The entrypoint `fashion_transfer.analyze` strings
them together.
"""
