"""The bench's run: every case measured in one process, ratios against the model-only limit.

`python -m fashion_transfer.bench` (src/fashion_transfer/bench/cli.py) checks the options and hands
over to `bench`; this module holds what needs torch, torchvision and the suite's training code.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from hydra.errors import HydraException
from omegaconf import DictConfig

from fashion_transfer.bench import BUDGET_S, fmnist, report
from fashion_transfer.bench import deepfashion as df
from fashion_transfer.bench.accuracy import time_to_accuracy
from fashion_transfer.bench.setup import compose_config
from fashion_transfer.bench.timing import Case, load_average, machine, measure, peak_memory_mb
from fashion_transfer.errors import UserError
from fashion_transfer.utils import pick_device, torch_threads

REPO = Path(__file__).resolve().parents[3]


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


FULL = Plan(8, 10, 1, 10, 100, 30, 3, 1000)
QUICK = Plan(2, 2, 1, 2, 40, 2, 1, 200)


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


def run(args: argparse.Namespace, command: str, default_threads: int) -> dict:
    """The bench, with `args.threads` torch threads set; `default_threads` is what a training
    run on this machine gets (time to accuracy trains with those)."""
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
    batches = {"fmnist": int(cfg.strategy.stages.source.batch_size)}
    resolutions = (64, 224) if device.type == "cuda" else (64,)
    loading, decode, half_size = {}, [], None
    for res in resolutions:
        progress(f"DeepFashion {res} px: preprocessing, cache, training paths")
        path = _deepfashion(overrides, synth, out, res, device, plan)
        cases += path.cases
        loading[f"df{res}"], batches[f"df{res}"] = path.loading, path.batch_size
        if res == 64:
            decode, half_size = path.decode, path.half_size
    cases += decode
    tta = _time_to_accuracy(args, cfg, device, started, default_threads)
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


@dataclass
class DeepFashionPath:
    """What the bench measured of the DeepFashion path at one resolution."""

    cases: list[Case]
    loading: dict
    batch_size: int
    decode: list[Case]  # decode+crop+resize per core, suite vs Pillow (64 px only)
    half_size: dict | None  # what half-size decoding changes (64 px only)


def _deepfashion(
    overrides: list[str], synth: Path, out: Path, res: int, device: torch.device, plan: Plan
) -> DeepFashionPath:
    """The DeepFashion path at `res` px on FashionSynth wild, from a fresh cache."""
    with tempfile.TemporaryDirectory(prefix="cache-", dir=out) as cache:
        dcfg_overrides = [
            "strategy=deepfashion_scratch",
            "dataset@target=synth_wild",
            *overrides,
            f"paths.synth_dir={synth}",  # after the user's: the bench's own data and
            f"paths.cache_dir={cache}",  # a fresh cache, so the first load builds it
            f"target.resolution={res}",
            f"backbone.resolution={res}",
        ]
        dcfg = compose_config(dcfg_overrides)
        tag = f"df{res}"
        data = df.prepare(dcfg, plan.preprocess_passes)
        cases = df.training_cases(dcfg, data, device, plan.df_steps, tag)
        if res == 64:  # the demo's backbone and resolution
            # The Lite0 cases replace the backbone, so the user's backbone settings (made for
            # the resnet cases, e.g. backbone.name) are not theirs.
            lite0_overrides = [
                o for o in dcfg_overrides if not o.lstrip("+~").startswith(("backbone.", "model@"))
            ]
            cases += [
                df.lite0_case(
                    compose_config(
                        [
                            *lite0_overrides,
                            "model@backbone=efficientnet_lite0",
                            f"backbone.resolution={res}",
                            f"backbone.prepad_depthwise={prepad}",
                        ]
                    ),
                    data,
                    device,
                    plan.df_steps,
                    f"{tag}/lite0_{'prepadded' if prepad else 'padded'}",
                )
                for prepad in (True, False)
            ]
        cases = measure(cases, plan.df_rounds, device)
        decode, half_size = [], None
        if res == 64:
            progress("decode+crop+resize per core: suite vs Pillow")
            decode = df.decode_per_core(dcfg, data.lists, plan.decode_images, plan.decode_rounds)
            half_size = df.half_size_difference(dcfg, data.lists)
        loading = df.loading_summary(data)
        del data  # its memory maps close before the cache folder goes
        batch = int(dcfg.strategy.stages.target.batch_size)
        return DeepFashionPath(cases, loading, batch, decode, half_size)


def _time_to_accuracy(
    args: argparse.Namespace,
    cfg: DictConfig,
    device: torch.device,
    started: float,
    default_threads: int,
) -> dict | None:
    """Seconds of fmnist_baseline training to the thresholds (with --time-to-accuracy)."""
    if not args.time_to_accuracy:
        return None
    threads = args.tta_threads or int(cfg.train.get("threads") or default_threads)
    # By default the run gets what the budget leaves, enough here for 93% (epoch 11 of 15).
    deadline = started + BUDGET_S if args.tta_limit is None else None
    if deadline is not None:
        limit = f"{deadline - time.perf_counter():.0f} s left of the bench's {BUDGET_S:.0f} s"
    else:
        limit = f"{args.tta_limit:.0f} s of training" if args.tta_limit else "none"
    progress(f"time to accuracy ({threads} threads, limit: {limit})")
    with torch_threads(threads):
        tta = time_to_accuracy(cfg, device, args.tta_limit or None, deadline=deadline)
    tta["threads"] = threads
    return tta


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
    if "df64" in batches:
        b = batches["df64"]
        pairs["lite0_prepadded_vs_padded"] = (
            f"df64/lite0_prepadded/b{b}",
            f"df64/lite0_padded/b{b}",
        )
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


def bench(args: argparse.Namespace, command: str) -> int:
    """Run the bench the options describe, write bench.json and bench.md; the exit status."""
    default_threads = torch.get_num_threads()  # what a training run on this machine gets
    try:
        with torch_threads(args.threads):
            result = run(args, command, default_threads)
    except (UserError, HydraException) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    report.write(result, args.out)
    print(report.markdown(result))
    progress(f"wrote {args.out / 'bench.json'} and {args.out / 'bench.md'}")
    return 0
