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
import os
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from hydra.errors import HydraException

from fashion_transfer.benchmark import deepfashion as df
from fashion_transfer.benchmark import fmnist, report
from fashion_transfer.benchmark.accuracy import time_to_accuracy
from fashion_transfer.benchmark.setup import compose_config
from fashion_transfer.benchmark.timing import load_average, machine, measure, peak_memory_mb
from fashion_transfer.cli import (
    ArgumentParser,
    check_output_folder,
    non_negative_float,
    non_negative_int,
    path_arg,
    positive_int,
)
from fashion_transfer.errors import UserError
from fashion_transfer.utils import pick_device

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Plan:
    """How much work each part does; the full plan takes under 10 minutes on a busy 2-core CPU."""

    fmnist_steps: int  # batches per timed round (suite batch size): short rounds, many of them,
    # so that the two halves of each per-round ratio run seconds apart
    fmnist_rounds: int
    df_steps: int
    df_rounds: int
    decode_images: int
    decode_rounds: int
    preprocess_passes: int
    synth_images: int


BUDGET_S = 585.0  # the whole bench: the 10 minutes, less room to start and write up
FULL = Plan(8, 10, 1, 10, 100, 30, 3, 1000)
QUICK = Plan(2, 2, 1, 2, 40, 2, 1, 200)


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


def data_overrides(overrides: list[str]) -> list[str]:
    """Default paths.data_dir to ../shared/data beside the repo when it holds Fashion-MNIST."""
    shared = REPO.parent / "shared" / "data"
    chosen = any(o.startswith("paths.data_dir=") for o in overrides)
    if chosen or "FASHION_TRANSFER_DATA" in os.environ:
        return overrides
    if (shared / "FashionMNIST" / "raw").is_dir():
        return [f"paths.data_dir={shared}", *overrides]
    return overrides


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace, command: str) -> dict:
    default_threads = torch.get_num_threads()  # what a training run on this machine gets
    torch.set_num_threads(args.threads)
    device = pick_device(args.device, "--device")
    plan = QUICK if args.quick else FULL
    out = args.out.resolve()
    started, load_start = time.perf_counter(), load_average()
    overrides = data_overrides(args.overrides)
    cfg = compose_config(overrides)

    progress("Fashion-MNIST: model-only, suite, torchvision DataLoader")
    domain = fmnist.load_domain(cfg)
    cases = measure(
        fmnist.fmnist_cases(cfg, domain, device, plan.fmnist_steps), plan.fmnist_rounds, device
    )
    del domain

    progress(f"FashionSynth wild ({plan.synth_images} images) under {out}")
    synth = df.synth_root(out, plan.synth_images)
    loading, decode, half_size = {}, [], None
    batches = {"fmnist": int(cfg.strategy.stages.source.batch_size)}
    for res in (64, 224) if device.type == "cuda" else (64,):
        progress(f"DeepFashion {res} px: preprocessing, cache, training paths")
        with tempfile.TemporaryDirectory(prefix="cache-", dir=out) as cache:
            dcfg = compose_config(
                [
                    "strategy=deepfashion_scratch",
                    "dataset@target=synth_wild",
                    *overrides,
                    f"paths.synth_dir={synth}",  # after the user's: the bench's own data and
                    f"paths.cache_dir={cache}",  # a fresh cache, so the first load builds it
                    f"target.resolution={res}",
                    f"backbone.resolution={res}",
                ]
            )
            tag = f"df{res}"
            data = df.prepare(dcfg, plan.preprocess_passes)
            loading[tag] = df.loading_summary(data)
            batches[tag] = int(dcfg.strategy.stages.target.batch_size)
            cases += measure(
                df.training_cases(dcfg, data, device, plan.df_steps, tag), plan.df_rounds, device
            )
            if res == 64:
                progress("decode+crop+resize per core: suite vs Pillow")
                decode = df.decode_per_core(
                    dcfg, data.lists, plan.decode_images, plan.decode_rounds
                )
                half_size = df.half_size_difference(dcfg, data.lists)
            del data
    cases += decode

    tta = None
    if args.time_to_accuracy:
        threads = args.tta_threads or int(cfg.train.get("threads") or default_threads)
        # By default the run gets what the budget leaves, enough here for 93% (epoch 11 of 15).
        deadline = started + BUDGET_S if args.tta_limit is None else None
        if deadline is not None:
            limit = f"{deadline - time.perf_counter():.0f} s left of the bench's {BUDGET_S:.0f} s"
        else:
            limit = f"{args.tta_limit:.0f} s of training" if args.tta_limit else "none"
        progress(f"time to accuracy ({threads} threads, limit: {limit})")
        torch.set_num_threads(threads)
        try:
            tta = time_to_accuracy(cfg, device, args.tta_limit or None, deadline=deadline)
        finally:
            torch.set_num_threads(args.threads)
        tta["threads"] = threads

    rows = report.case_rows(cases)
    medians, quartiles = ratios(rows, batches, loading)
    result = {
        "command": command,
        "quick": args.quick,
        "machine": {**machine(device, args.threads), "load_start": load_start},
        "cases": rows,
        "ratios": medians,
        "ratio_quartiles": quartiles,
        "loading": loading,
        "half_size_decoding": half_size,
        "time_to_accuracy": tta,
        "memory": memory(device),
    }
    result["machine"]["load_end"] = load_average()
    result["seconds"] = time.perf_counter() - started
    result["targets"] = report.targets(result)
    return result


def ratios(rows: dict[str, dict], batches: dict[str, int], loading: dict[str, dict]) -> tuple:
    """Each path over the model-only limit at the same batch size: medians and quartiles."""
    b, s = batches["fmnist"], fmnist.REFERENCE_BATCH
    pairs = {
        "fmnist_suite_vs_model": (f"fmnist/suite/b{b}", f"fmnist/model_only/b{b}"),
        "decode_suite_vs_pillow": ("decode/suite_per_core", "decode/pillow_per_core"),
        "decode_ceiling_vs_pillow": ("decode/suite_decode_only_per_core", "decode/pillow_per_core"),
        "torchvision_decoder_vs_pillow_decoder": (
            "decode/torchvision_decode_only_per_core",
            "decode/pillow_decode_only_per_core",
        ),
        "decoder_vs_pillow_decoder": (
            "decode/suite_decode_full_only_per_core",
            "decode/pillow_decode_only_per_core",
        ),
    }
    for w in (0, 2):
        pairs[f"fmnist_reference_w{w}_vs_model"] = (
            f"fmnist/reference/b{s}_w{w}",
            f"fmnist/model_only/b{s}",
        )
    for tag in loading:
        b = batches[tag]
        limit = f"{tag}/model_only/b{b}"
        pairs[f"{tag}_cache_vs_model"] = (f"{tag}/suite_cache/b{b}", limit)
        pairs[f"{tag}_in_memory_vs_model"] = (f"{tag}/suite_in_memory/b{b}", limit)
        pairs[f"{tag}_device_decode_vs_model"] = (f"{tag}/device_decode/b{b}", limit)
        for w in (0, 2):
            pairs[f"{tag}_reference_w{w}_vs_model"] = (f"{tag}/reference/b{b}_w{w}", limit)
    medians, quartiles = {}, {}
    for key, (num, den) in pairs.items():
        medians[key], quartiles[key] = report.summarise(report.paired(rows, num, den))
    for tag, load in loading.items():  # one-shot preprocessing: no rounds to pair
        limit = rows[f"{tag}/model_only/b{batches[tag]}"]["images_per_s"]
        train = rows[f"{tag}/suite_in_memory/b{batches[tag]}"]["images_per_s"]
        first = report.first_epoch_rate(train, load["preprocess_images_per_s"])
        medians[f"{tag}_on_the_fly_first_epoch_vs_model"] = first / limit
    return medians, quartiles


def memory(device: torch.device) -> dict[str, float]:
    mem = peak_memory_mb()
    if device.type == "cuda":
        mem["cuda_max_allocated_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return mem


def _one_line(exc: BaseException) -> str:
    """The user's error inside Hydra's instantiation wrapper, or Hydra's own first line."""
    cause = exc
    while cause is not None and not isinstance(cause, UserError):
        cause = cause.__cause__
    return str(cause or exc).splitlines()[0]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    command = shlex.join(["python", "-m", "fashion_transfer.bench", *argv])
    threads = torch.get_num_threads()
    try:
        check_output_folder(args.out)  # before minutes of timing, not after
        result = run(args, command)
    except (UserError, HydraException) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    finally:
        torch.set_num_threads(threads)
    report.write(result, args.out)
    print(report.markdown(result))
    progress(f"wrote {args.out / 'bench.json'} and {args.out / 'bench.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
