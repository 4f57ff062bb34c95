"""Paired comparisons of strategies over matched seeds: does A beat B, and by how much?

Runs of two strategies with the same seed are a pair (both see the same data splits and the same
test images). For every pair of strategies and each headline metric this gives:

- `mean_diff`: the mean over seed pairs of (A - B);
- `ci_low`, `ci_high`: the paired Student-t 95% interval over seeds (`scipy.stats.ttest_rel`);
- `bootstrap_low`, `bootstrap_high`: a two-level paired bootstrap 95% interval
  (`scipy.stats.bootstrap`, percentile method, fixed seed): seed pairs are resampled, and within
  each drawn pair the test images are resampled jointly for A and B, so the interval carries both
  the seed-to-seed spread and the finite test set. The inner draw is exact and cheap: the mean
  of a resample of per-image differences in {-1, 0, +1} is a multinomial draw of their counts;
- `p_improvement`: the share of seed pairs where A > B (a tie counts one half).

With fewer than two pairs there is no spread to estimate: both intervals are empty (NaN) and no
comparison counts as resolved. Runs whose seed has no partner are left out and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats as sps

from fashion_transfer import atomic
from fashion_transfer.analysis import stats

#: Headline metric -> the test set in predictions.npz whose per-image results make it up.
METRICS = {"target_top1": "target", "shared_acc": "shared", "source_test_acc": "source"}
METRIC_LABELS = {
    "target_top1": "target top-1",
    "shared_acc": "shared 6-class",
    "source_test_acc": "source test",
}
COLUMNS = [
    "metric",
    "strategy_a",
    "strategy_b",
    "n_pairs",
    "mean_diff",
    "ci_low",
    "ci_high",
    "bootstrap_low",
    "bootstrap_high",
    "p_improvement",
]
BOOTSTRAP_RESAMPLES = 4000
BOOTSTRAP_SEED = 0


@dataclass
class Comparisons:
    """The comparisons table (COLUMNS) and the runs each comparison left out for want of a partner."""

    table: pd.DataFrame
    unpaired: pd.DataFrame  # metric, strategy_a, strategy_b, strategy, seed, folder

    def resolved(self) -> pd.DataFrame:
        """Rows whose t-interval excludes zero, and whose bootstrap interval, where there is one,
        excludes it on the same side."""
        t = self.table
        above = (t["ci_low"] > 0) & (t["bootstrap_low"].isna() | (t["bootstrap_low"] > 0))
        below = (t["ci_high"] < 0) & (t["bootstrap_high"].isna() | (t["bootstrap_high"] < 0))
        return t[above | below]


def comparable_runs(frame: pd.DataFrame) -> pd.DataFrame:
    """Completed runs of the five strategies at their largest train_fraction, each with a `unit`.

    The in-domain Fashion-MNIST-view run is a reference, not a strategy: it is not compared. A
    setting that varies within a strategy (a second backbone, say) makes a unit of its own.
    """
    done = stats.completed(frame)
    done = stats.at_largest_fraction(done[~stats.is_fmnist_view(done)]).copy()
    if done.empty:
        done["unit"] = pd.Series(dtype=str)
        return done
    keys = [k for k in stats.group_keys(done)[1:] if k != "train_fraction"]
    varying = {
        name: [k for k in keys if part[k].nunique(dropna=False) > 1]
        for name, part in done.groupby("strategy", dropna=False)
    }
    done["unit"] = [stats.variant_label(r, varying[r["strategy"]]) for _, r in done.iterrows()]
    return done


def unit_order(runs: pd.DataFrame) -> list[str]:
    """Units in the design's strategy order (baseline first), then by label."""
    firsts = runs.drop_duplicates("unit")
    return [
        r["unit"]
        for _, r in sorted(
            firsts.iterrows(), key=lambda x: (stats.strategy_rank(x[1]["strategy"]), x[1]["unit"])
        )
    ]


def _by_seed(runs: pd.DataFrame, metric: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one run per seed with the metric, the runs left over: a second run with the same seed)."""
    have = runs[runs[metric].notna() & runs["seed"].notna()].sort_values("folder")
    duplicate = have["seed"].duplicated(keep="first")
    return have[~duplicate].set_index("seed"), have[duplicate]


def t_interval_of_differences(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Paired Student-t 95% interval of mean(a - b); NaN with fewer than two pairs."""
    if len(a) < 2:
        return np.nan, np.nan
    diff = a - b
    if np.allclose(diff, diff[0], rtol=0, atol=1e-12):  # no spread: ttest_rel would give NaN
        return float(diff[0]), float(diff[0])
    ci = sps.ttest_rel(a, b).confidence_interval(0.95)
    return float(ci.low), float(ci.high)


def _per_image_counts(path_a: str, path_b: str, image_set: str) -> np.ndarray | None:
    """Counts of per-image differences (-1, 0, +1) of two runs on the same test images, or None."""
    try:
        with np.load(path_a) as fa, np.load(path_b) as fb:
            ca, cb = fa[f"{image_set}_correct"], fb[f"{image_set}_correct"]
            la, lb = fa[f"{image_set}_labels"], fb[f"{image_set}_labels"]
    except (OSError, KeyError, ValueError):
        return None
    if len(ca) == 0 or len(ca) != len(cb) or not np.array_equal(la, lb):
        return None  # not the same test images: no image-level pairing
    diff = ca.astype(np.int8) - cb.astype(np.int8)
    return np.array([(diff == -1).sum(), (diff == 0).sum(), (diff == 1).sum()])


def paired_bootstrap(counts: np.ndarray, seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Two-level paired bootstrap 95% interval of the mean difference over seed pairs.

    `counts` is (pairs, 3): per seed pair, how many test images A got wrong and B right (-1),
    both alike (0), A right and B wrong (+1). scipy resamples the seed pairs; for each drawn pair
    the mean difference over a resample of its images is drawn from the multinomial those counts
    define, which is what resampling the images themselves would give.
    """
    counts = np.asarray(counts, dtype=np.int64)
    n_images = counts.sum(1)
    probs = counts / n_images[:, None]
    inner = np.random.default_rng(seed + 1)

    def statistic(idx: np.ndarray, axis: int = -1) -> np.ndarray:
        idx = np.moveaxis(np.asarray(idx, dtype=np.int64), axis, -1)
        drawn = inner.multinomial(n_images[idx], probs[idx])
        return ((drawn[..., 2] - drawn[..., 0]) / n_images[idx]).mean(-1)

    res = sps.bootstrap(
        (np.arange(len(counts)),),
        statistic,
        vectorized=True,
        n_resamples=BOOTSTRAP_RESAMPLES,
        confidence_level=0.95,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _compare(runs: pd.DataFrame, a: str, b: str, metric: str) -> tuple[dict, list[dict]]:
    row = dict.fromkeys(COLUMNS, np.nan) | {
        "metric": metric,
        "strategy_a": a,
        "strategy_b": b,
        "n_pairs": 0,
    }
    ra, extra_a = _by_seed(runs[runs["unit"] == a], metric)
    rb, extra_b = _by_seed(runs[runs["unit"] == b], metric)
    if ra.empty or rb.empty:  # the metric does not apply to one of them: nothing to pair
        return row, []
    seeds = sorted(set(ra.index) & set(rb.index))
    left = [
        (unit, s, part.loc[s, "folder"])
        for unit, part in ((a, ra), (b, rb))
        for s in part.index
        if s not in seeds
    ] + [
        (unit, r["seed"], r["folder"])
        for unit, ex in ((a, extra_a), (b, extra_b))
        for _, r in ex.iterrows()
    ]
    unpaired = [
        {
            "metric": metric,
            "strategy_a": a,
            "strategy_b": b,
            "strategy": u,
            "seed": int(s),
            "folder": f,
        }
        for u, s, f in left
    ]
    if not seeds:
        return row, unpaired
    va = ra.loc[seeds, metric].to_numpy(dtype=float)
    vb = rb.loc[seeds, metric].to_numpy(dtype=float)
    diff = va - vb
    row.update(
        n_pairs=len(seeds),
        mean_diff=float(diff.mean()),
        p_improvement=float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / len(diff)),
    )
    row["ci_low"], row["ci_high"] = t_interval_of_differences(va, vb)
    if len(seeds) >= 2:
        counts = [
            _per_image_counts(ra.loc[s, "predictions"], rb.loc[s, "predictions"], METRICS[metric])
            if isinstance(ra.loc[s, "predictions"], str)
            and isinstance(rb.loc[s, "predictions"], str)
            else None
            for s in seeds
        ]
        if all(c is not None for c in counts):
            row["bootstrap_low"], row["bootstrap_high"] = paired_bootstrap(np.stack(counts))
    return row, unpaired


def compare(frame: pd.DataFrame) -> Comparisons:
    """Every pair of strategies (in the design's order, A before B) for every headline metric."""
    runs = comparable_runs(frame)
    if "predictions" not in runs.columns:
        runs["predictions"] = None
    units = unit_order(runs) if not runs.empty else []
    rows, unpaired = [], []
    for metric in METRICS:
        for a, b in combinations(units, 2):
            row, left = _compare(runs, a, b, metric)
            rows.append(row)
            unpaired += left
    table = pd.DataFrame(rows, columns=COLUMNS)
    table["n_pairs"] = table["n_pairs"].astype(int)
    left_cols = ["metric", "strategy_a", "strategy_b", "strategy", "seed", "folder"]
    return Comparisons(table, pd.DataFrame(unpaired, columns=left_cols))


def write_csv(comparisons: Comparisons, path) -> None:
    """comparisons.csv with exactly COLUMNS; an interval that cannot be computed is left empty."""
    atomic.write_text(path, comparisons.table[COLUMNS].to_csv(index=False))
