"""Benchmark entrypoint: `python -m fashion_transfer.bench [--quick] [--device cuda] [key=value ...]`.

Measures, in one process, the suite's data paths against the model's own compute (the limit) and
against the loops tutorials write, and writes `bench.json` and `bench.md` into `--out`:

1. model-only: the train step on batches already in device memory (SimpleFashionCNN at 28 px,
   the target strategy's resnet at 64 px, and at 224 px on CUDA);
2. the suite's Fashion-MNIST epoch function on the real loader's data, at the default batch size;
3. torchvision's FashionMNIST + ToTensor + DataLoader (batch 64, num_workers 0 and 2);
4. the suite's DeepFashion path on FashionSynth wild data: the on-the-fly preprocessing pass,
   the cache build, and training from the memory-mapped cache and from memory;
5. a Pillow Dataset + DataLoader reference; and decode+crop+resize per core, suite vs Pillow;
6. with --time-to-accuracy (on unless --quick): seconds of fmnist_baseline training to 92.2% and
   93% test accuracy, in what is left of the bench's budget (BUDGET_S; --tta-limit changes it).

`key=value` arguments are Hydra overrides of conf/ (e.g. `paths.data_dir=DIR`); the models, batch
sizes and data settings all come from the composed config. Timings are medians of interleaved
rounds; targets are ratios from the same run, so the machine's load cancels out as far as it can.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from fashion_transfer.bench import BUDGET_S
from fashion_transfer.cli import (
    ArgumentParser,
    check_output_folder,
    non_negative_float,
    non_negative_int,
    path_arg,
    positive_int,
)
from fashion_transfer.errors import UserError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = ArgumentParser(
        prog="python -m fashion_transfer.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", type=path_arg, default=Path("bench"), help="where bench.json/.md go")
    p.add_argument("--quick", action="store_true", help="a few rounds of every case (~1-2 min)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1")
    p.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="torch intra-op threads (default 1: on a shared 2-core machine, more threads than "
        "free cores run several times slower; raise it on an idle many-core machine)",
    )
    p.add_argument(
        "--time-to-accuracy",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="train fmnist_baseline to 92.2%%/93%% test accuracy (default: on, off with --quick)",
    )
    p.add_argument(
        "--tta-threads",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="torch threads of the time-to-accuracy run (default 0: what a training run uses, "
        "train.threads or torch's default for this machine; the 643 s reference ran that way)",
    )
    p.add_argument(
        "--tta-limit",
        type=non_negative_float,
        default=None,
        metavar="SECONDS",
        help="start no epoch that would end past this much training time (0: the whole recipe; "
        f"default: what is left of the bench's {BUDGET_S:.0f} s budget)",
    )
    p.add_argument("overrides", nargs="*", metavar="key=value", help="Hydra overrides of conf/")
    args = p.parse_args(argv)
    if args.time_to_accuracy is None:
        args.time_to_accuracy = not args.quick
    bad = [o for o in args.overrides if "=" not in o]
    if bad:
        p.error(f"overrides must be key=value, got {bad[0]!r}")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    try:
        check_output_folder(args.out)  # before minutes of timing, not after
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    # The measuring code (torch, torchvision, the training loop) loads only once the options are
    # checked: a mistyped option is answered at once, not after seconds of imports.
    from fashion_transfer.bench.runner import bench

    return bench(args, shlex.join(["python", "-m", "fashion_transfer.bench", *argv]))
