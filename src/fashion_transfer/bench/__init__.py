"""The bench, in one place: `python -m fashion_transfer.bench` (cli.py checks the options, runner.py
measures), its parts (timing, setup of the suite's objects, the cases per data set, time to
accuracy, report) and the GPU check (`python -m fashion_transfer.bench.gpu_check`).
"""

BUDGET_S = 585.0  # the whole bench: the 10 minutes, less room to start and write up
