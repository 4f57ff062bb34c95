"""Paired comparisons and selection protocols on hand-built runs with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from fashion_transfer.analysis import comparisons, selection
from fashion_transfer.analysis.report_compare import comparison_section
from fashion_transfer.analysis.rows import to_frame

A, B, C = "deepfashion_imagenet", "adapter_scratch", "adapter_pretrained"


def _row(strategy: str, seed: int, **values) -> dict:
    return {
        "folder": f"/runs/{strategy}/{seed}",
        "status": "completed",
        "strategy": strategy,
        "seed": seed,
        "train_fraction": 1.0,
        **values,
    }


def _frame(values: dict[str, dict[int, float]], metric: str = "target_top1") -> pd.DataFrame:
    return to_frame(
        [_row(s, seed, **{metric: v}) for s, per in values.items() for seed, v in per.items()]
    )


def _row_of(table: pd.DataFrame, metric: str, a: str, b: str) -> pd.Series:
    hit = table[
        (table["metric"] == metric) & (table["strategy_a"] == a) & (table["strategy_b"] == b)
    ]
    assert len(hit) == 1
    return hit.iloc[0]


def test_paired_differences_and_t_intervals_equal_scipy():
    va = {0: 0.70, 1: 0.74, 2: 0.69, 3: 0.75}
    vb = {0: 0.61, 1: 0.66, 2: 0.64, 3: 0.65}
    vc = {0: 0.72, 1: 0.70, 2: 0.71, 3: 0.73}
    out = comparisons.compare(_frame({A: va, B: vb, C: vc}))
    assert list(out.table.columns) == comparisons.COLUMNS
    # Strategies in the design's order: A=deepfashion_imagenet before adapter_scratch before adapter_pretrained.
    for (a, x), (b, y) in [((A, va), (B, vb)), ((A, va), (C, vc)), ((B, vb), (C, vc))]:
        row = _row_of(out.table, "target_top1", a, b)
        xa, yb = np.array(list(x.values())), np.array(list(y.values()))
        ci = sps.ttest_rel(xa, yb).confidence_interval(0.95)
        assert row["n_pairs"] == 4
        assert row["mean_diff"] == pytest.approx((xa - yb).mean())
        assert (row["ci_low"], row["ci_high"]) == (pytest.approx(ci.low), pytest.approx(ci.high))
        assert row["p_improvement"] == pytest.approx(((xa > yb).sum() + 0.5 * (xa == yb).sum()) / 4)
        assert np.isnan(row["bootstrap_low"])  # no predictions.npz: no image-level bootstrap
    # A beats B on every seed by 5-9 points: resolved. A vs C: unresolved.
    resolved = out.resolved()
    assert set(zip(resolved["strategy_a"], resolved["strategy_b"], strict=True)) >= {(A, B)}
    assert (A, C) not in set(zip(resolved["strategy_a"], resolved["strategy_b"], strict=True))


def test_unpaired_runs_are_left_out_and_counted():
    frame = _frame({A: {0: 0.7, 1: 0.72, 2: 0.71, 7: 0.9}, B: {0: 0.6, 1: 0.61, 2: 0.65, 9: 0.1}})
    out = comparisons.compare(frame)
    row = _row_of(out.table, "target_top1", A, B)
    assert row["n_pairs"] == 3
    assert row["mean_diff"] == pytest.approx(np.mean([0.1, 0.11, 0.06]))  # seeds 7, 9 not used
    left = out.unpaired[out.unpaired["metric"] == "target_top1"]
    assert sorted(zip(left["strategy"], left["seed"], strict=True)) == sorted([(A, 7), (B, 9)])
    text = comparison_section(out).intro
    assert "2 runs have no partner with the same seed" in text
    assert f"{A} seed 7" in text and f"{B} seed 9" in text


def test_one_seed_gives_rows_with_empty_intervals_and_nothing_resolved():
    out = comparisons.compare(_frame({A: {0: 0.8}, B: {0: 0.5}, C: {0: 0.6}}))
    rows = out.table[out.table["metric"] == "target_top1"]
    assert len(rows) == 3 and (rows["n_pairs"] == 1).all()
    assert rows[["ci_low", "ci_high", "bootstrap_low", "bootstrap_high"]].isna().all().all()
    assert out.resolved().empty
    assert "no comparison is resolved" in comparison_section(out).intro


def test_metric_that_does_not_apply_gives_an_empty_row():
    frame = to_frame(
        [_row("fmnist_baseline", s, shared_acc=0.3) for s in (0, 1)]
        + [_row(A, s, shared_acc=0.8, target_top1=0.7) for s in (0, 1)]
    )
    out = comparisons.compare(frame)
    assert _row_of(out.table, "target_top1", "fmnist_baseline", A)["n_pairs"] == 0
    assert _row_of(out.table, "shared_acc", "fmnist_baseline", A)["n_pairs"] == 2
    assert out.unpaired.empty


def _write_predictions(path, correct: np.ndarray, labels: np.ndarray) -> str:
    np.savez(
        path,
        target_correct=correct.astype(np.uint8),
        target_labels=labels.astype(np.int16),
        target_confidence=np.full(len(correct), 0.5, dtype=np.float16),
    )
    return str(path)


def test_bootstrap_contains_the_true_difference_and_is_reproducible(tmp_path):
    """Five seeds; A is right on 80% of 2,000 images, B on 70%, plus a small per-seed shift."""
    rng = np.random.default_rng(0)
    n, rows = 2000, []
    labels = np.arange(n) % 7
    for seed in range(5):
        shift = rng.normal(0, 0.01)
        ca = rng.random(n) < 0.80 + shift
        cb = rng.random(n) < 0.70 + shift
        for strategy, c in ((A, ca), (B, cb)):
            path = _write_predictions(tmp_path / f"{strategy}-{seed}.npz", c, labels)
            rows.append(_row(strategy, seed, target_top1=c.mean(), predictions=path))
    frame = to_frame(rows)
    first = _row_of(comparisons.compare(frame).table, "target_top1", A, B)
    again = _row_of(comparisons.compare(frame).table, "target_top1", A, B)
    assert first["bootstrap_low"] < 0.10 < first["bootstrap_high"]
    assert first["bootstrap_low"] > 0.05 and first["bootstrap_high"] < 0.15
    assert (first["bootstrap_low"], first["bootstrap_high"]) == (
        again["bootstrap_low"],
        again["bootstrap_high"],
    )
    # A different bootstrap seed gives a (slightly) different interval: the seed is what fixes it.
    counts = np.stack(
        [
            comparisons._per_image_counts(
                str(tmp_path / f"{A}-{s}.npz"), str(tmp_path / f"{B}-{s}.npz"), "target"
            )
            for s in range(5)
        ]
    )
    assert comparisons.paired_bootstrap(counts) == (first["bootstrap_low"], first["bootstrap_high"])
    assert comparisons.paired_bootstrap(counts, seed=1) != comparisons.paired_bootstrap(counts)


def test_bootstrap_needs_the_same_test_images(tmp_path):
    labels = np.arange(100) % 5
    rows = []
    for seed in (0, 1):
        c = np.arange(100) < 60 + seed
        rows.append(
            _row(
                A,
                seed,
                target_top1=c.mean(),
                predictions=_write_predictions(tmp_path / f"a{seed}.npz", c, labels),
            )
        )
        other = labels if seed == 0 else (labels + 1) % 5  # seed 1 of B saw other images
        rows.append(
            _row(
                B,
                seed,
                target_top1=0.5,
                predictions=_write_predictions(tmp_path / f"b{seed}.npz", c, other),
            )
        )
    row = _row_of(comparisons.compare(to_frame(rows)).table, "target_top1", A, B)
    assert row["n_pairs"] == 2 and not np.isnan(row["ci_low"])
    assert np.isnan(row["bootstrap_low"])


def _epochs(stage: str, val: list[float], test: list[float] | None) -> list[dict]:
    return [
        {"stage": stage, "epoch": i + 1, "val_acc": v, **({"test_acc": test[i]} if test else {})}
        for i, v in enumerate(val)
    ]


def test_protocols_pick_the_epochs_they_should():
    history = _epochs("source", [0.9, 0.95], None) + _epochs(
        "target", [0.50, 0.62, 0.62, 0.58], [0.48, 0.55, 0.61, 0.57]
    )
    picked = selection.select(history)
    assert picked["target-val"]["epoch"] == 2  # best validation; the earlier of a tie
    assert picked["last"]["epoch"] == 4
    assert picked["oracle"]["epoch"] == 3  # best test: an upper bound
    assert selection.select(_epochs("target", [0.5], None)) == dict.fromkeys(selection.PROTOCOLS)


def test_selection_table_means_over_seeds():
    rows = []
    for seed, shift in ((0, 0.0), (1, 0.02), (2, 0.04)):
        test = [0.40 + shift, 0.50 + shift, 0.58 + shift, 0.45 + shift]
        hist = _epochs("target", [0.5, 0.6, 0.55, 0.52], test)
        rows.append(_row(A, seed, target_top1=0.5 + shift, history=hist))
    table = selection.selection_table(to_frame(rows))
    assert list(table.columns) == selection.COLUMNS
    got = table.set_index("protocol")
    assert got.loc["target-val", "mean"] == pytest.approx(0.52)
    assert got.loc["last", "mean"] == pytest.approx(0.47)
    assert got.loc["oracle", "mean"] == pytest.approx(0.60)
    half = sps.t.ppf(0.975, 2) * np.std([0.5, 0.52, 0.54], ddof=1) / np.sqrt(3)
    assert got.loc["target-val", "ci_high"] == pytest.approx(0.52 + half)
    assert (got["n"] == 3).all() and (got["metric"] == "test_acc").all()


def test_reliability_bins_give_the_calibration_error_training_records():
    """The diagram's bins and torchmetrics' ECE agree (training writes one, the figure the other)."""
    torch = pytest.importorskip("torch")
    from fashion_transfer.analysis.figures.compare import reliability_bins
    from fashion_transfer.training.metrics import calibration_error, per_image

    gen = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(400, 6, generator=gen)
    labels = torch.randint(0, 6, (400,), generator=gen)
    arrays = per_image(logits, labels)
    bins = reliability_bins(arrays["confidence"].astype(float), arrays["correct"].astype(float))
    filled = bins[bins["count"] > 0]
    ece = (filled["count"] / 400 * (filled["accuracy"] - filled["confidence"]).abs()).sum()
    assert ece == pytest.approx(calibration_error(logits, labels), abs=2e-3)  # float16 confidences
