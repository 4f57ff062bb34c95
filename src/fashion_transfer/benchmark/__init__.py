"""The bench's parts: timing, the suite's objects, the cases per data set, time to accuracy, report.

`python -m fashion_transfer.bench` (src/fashion_transfer/bench.py) is the entrypoint.
"""

BUDGET_S = 585.0  # the whole bench: the 10 minutes, less room to start and write up
