"""The gap decomposition's waterfall: levels, per-seed steps, intervals, views named; sample rows."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from fashion_transfer.analysis import rows as row_builder
from fashion_transfer.analysis.figures import detail, gap
from fashion_transfer.analysis.figures.common import Skip

matplotlib.use("Agg")
SHARED = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Shirt"]


def run(strategy: str, seed: int, view: bool = False, samples: str | None = None) -> dict:
    """A row as collect builds it from metrics.json (only the fields the figure reads)."""
    metrics = {
        "status": "completed",
        "strategy": strategy,
        "seed": seed,
        "synthetic": True,
        "source_dataset": "synth_wild" if view else "synth_studio",
        "target_dataset": "synth_wild",
        "source_view": "fmnist" if view else None,
        "source_fmnist_background": "segment" if view else None,
        "target_fmnist_background": "segment" if strategy == "fmnist_baseline" else None,
        "train_fraction": 1.0,
        "source_test_acc": None if view else 0.95 + 0.01 * seed,
        "shared_acc": {"fmnist_baseline": 0.80 if view else 0.45, "x_rgb": 0.9}[strategy]
        + 0.02 * seed,
        "zero_shot_by_background": None
        if view or strategy != "fmnist_baseline"
        else {
            "keep": {"acc": 0.30 + 0.01 * seed, "n": 300},
            "segment": {"acc": 0.45 + 0.02 * seed, "n": 300},
        },
    }
    row = row_builder.build_row(
        f"/runs/{strategy}{seed}{view}", metrics, None, origin="metrics.json"
    )
    if samples:
        row["samples"] = samples
    return row


def sweep(seeds=(0, 1, 2), view: bool = True) -> pd.DataFrame:
    rows = [run("fmnist_baseline", s) for s in seeds] + [run("x_rgb", s) for s in seeds]
    rows += [run("fmnist_baseline", s, view=True) for s in seeds] if view else []
    return row_builder.to_frame(rows)


def test_collect_turns_zero_shot_by_background_into_columns() -> None:
    frame = sweep()
    base = frame[frame["strategy"].eq("fmnist_baseline") & frame["source_view"].isna()]
    assert base["zero_shot_keep_acc"].tolist() == pytest.approx([0.30, 0.31, 0.32])
    assert base["zero_shot_segment_acc"].tolist() == pytest.approx([0.45, 0.47, 0.49])
    assert base["zero_shot_flatten_acc"].isna().all()
    assert "zero_shot_keep_acc" in row_builder.CSV_COLUMNS
    assert base["target_fmnist_background"].eq("segment").all()


def test_steps_pair_seeds_and_carry_t_intervals() -> None:
    table = gap.steps(gap.levels(sweep()))
    assert table["step"].tolist() == [
        "total drop to zero-shot",
        "format + background",
        "domain",
        "RGB + resolution",
    ]
    fb = table.iloc[1]  # keep -> segment: +15, +16, +17 pp over the three seeds
    half = sps.t.ppf(0.975, 2) * np.std([15, 16, 17], ddof=1) / np.sqrt(3)
    assert fb["diff"] == pytest.approx(16.0) and fb["ci95"] == pytest.approx(half)
    assert fb["seeds"] == 3
    domain = table.iloc[2]  # 45 -> 80 each seed: no spread
    assert domain["diff"] == pytest.approx(35.0) and domain["ci95"] == pytest.approx(0.0)


def test_figure_names_the_view_of_each_bar(tmp_path: Path) -> None:
    fig, caption = gap.gap_waterfall(sweep())
    fig.savefig(tmp_path / "w.svg")
    svg = (tmp_path / "w.svg").read_text()
    for text in ("view: keep", "view: segment", "format + background", "+16.0 ± 2.5"):
        assert text in svg or text in caption, text
    assert "format + background +16.0 ± 2.5 pp (n=3 seeds)" in caption


def test_without_the_in_domain_run_it_is_skipped() -> None:
    with pytest.raises(Skip, match="no in-domain Fashion-MNIST-view run"):
        gap.gap_waterfall(sweep(view=False))


def test_a_sample_row_per_background(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    arrays = {"samples_meta": np.array(json.dumps({"shared_classes": SHARED}))}
    for prefix in ("fmnist_view", "fmnist_view_keep", "fmnist_view_flatten"):
        arrays[f"{prefix}_images"] = rng.integers(0, 256, (4, 1, 28, 28), dtype=np.uint8)
        arrays[f"{prefix}_labels"] = np.arange(4)
        arrays[f"{prefix}_preds"] = np.arange(4)
    np.savez(tmp_path / "samples.npz", **arrays)
    frame = row_builder.to_frame([run("fmnist_baseline", 0, samples=str(tmp_path / "samples.npz"))])
    fig, caption = detail.sample_grid(frame)
    assert len(fig.axes) == 3 * 4
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert [label.split("\n")[1] for label in labels] == [
        "fmnist_background=segment",
        "fmnist_background=keep",
        "fmnist_background=flatten",
    ]
    assert "the same images with fmnist_background=keep" in caption


def test_the_analysis_names_the_views_backgrounds() -> None:
    from fashion_transfer.data.fmnist_view import BACKGROUNDS

    assert row_builder.BACKGROUNDS == BACKGROUNDS


def test_readme_sentence_names_every_level_and_marks_unresolved_steps() -> None:
    from fashion_transfer.analysis.readme_demo import decomposition

    text = decomposition(sweep())
    # keep -> segment is +15/+16/+17 pp: resolved; the RGB step (+10 pp each seed) has no spread.
    assert "zero-shot view: keep 31.0%" in text
    assert "format + background: +16.0 ± 2.5 pp, 3 seeds)" in text
    assert "in-domain, target view: segment 82.0% (domain: +35.0" in text
    assert "unresolved" not in text
    one_seed_apart = sweep().copy()
    mask = one_seed_apart["strategy"].eq("x_rgb") & one_seed_apart["seed"].eq(2)
    one_seed_apart.loc[mask, "shared_acc"] = 0.70  # the RGB step now straddles zero
    assert "(RGB + resolution: " in decomposition(one_seed_apart)
    assert decomposition(one_seed_apart).endswith("3 seeds, unresolved).")
    assert decomposition(sweep(view=False)).startswith("No gap decomposition: no in-domain")
