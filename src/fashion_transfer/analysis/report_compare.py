"""The report's paired-comparison and selection-protocol sections, in Markdown and in HTML.

`report.py` places them after the per-strategy summary; the tables come from `comparisons` and
`selection`, formatted here in percentage points (differences) and percent (accuracies).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import pandas as pd

from fashion_transfer.analysis.comparisons import METRIC_LABELS, Comparisons
from fashion_transfer.analysis.selection import PROTOCOL_LABELS

COMPARISON_HEADERS = [
    "metric",
    "A",
    "B",
    "pairs",
    "A − B (pp)",
    "paired t 95%",
    "bootstrap 95%",
    "P(A > B)",
    "resolved",
]
SELECTION_HEADERS = ["strategy", "protocol", "test accuracy (%)", "95% interval", "n"]


@dataclass
class Section:
    """One report section: a title, an intro paragraph, one table (headers, rows), its HTML id."""

    title: str
    intro: str
    headers: list[str]
    rows: list[list[str]]
    table_id: str

    def markdown(self) -> str:
        lines = [f"## {self.title}", "", self.intro, ""]
        if self.rows:
            lines += ["| " + " | ".join(self.headers) + " |", "|" + "---|" * len(self.headers)]
            lines += [
                "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in self.rows
            ]
        return "\n".join(lines) + "\n"

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.headers)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
            for row in self.rows
        )
        table = (
            f'<div class="table-scroll"><table id="{self.table_id}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>"  # report.CSS: scrolls where wider than the page
            if self.rows
            else ""
        )
        return f"<h2>{html.escape(self.title)}</h2><p>{html.escape(self.intro)}</p>{table}"


def _pp(value: float) -> str:
    return "—" if pd.isna(value) else f"{100 * value:+.1f}"


def _interval(low: float, high: float, scale: float = 100.0, signed: bool = True) -> str:
    if pd.isna(low) or pd.isna(high):
        return "—"
    fmt = "{:+.1f}" if signed else "{:.1f}"
    return f"[{fmt.format(scale * low)}, {fmt.format(scale * high)}]"


def comparison_section(comparisons: Comparisons) -> Section:
    """Every strategy pair that shares a seed and a metric; what is resolved and what is not."""
    table = comparisons.table
    shown = table[table["n_pairs"] > 0]
    resolved = comparisons.resolved()
    resolved_keys = set(
        zip(resolved["metric"], resolved["strategy_a"], resolved["strategy_b"], strict=True)
    )
    rows = [
        [
            METRIC_LABELS.get(r["metric"], r["metric"]),
            r["strategy_a"],
            r["strategy_b"],
            str(r["n_pairs"]),
            _pp(r["mean_diff"]),
            _interval(r["ci_low"], r["ci_high"]),
            _interval(r["bootstrap_low"], r["bootstrap_high"]),
            f"{r['p_improvement']:.2f}",
            "yes" if (r["metric"], r["strategy_a"], r["strategy_b"]) in resolved_keys else "no",
        ]
        for _, r in shown.iterrows()
    ]
    max_pairs = int(shown["n_pairs"].max()) if not shown.empty else 0
    parts = [
        "Runs of two strategies with the same seed are pairs. A − B is the mean over pairs, in "
        "percentage points; the paired Student-t interval is over seeds; the bootstrap resamples "
        "seed pairs and, within each, the test images jointly for A and B; P(A > B) is the share "
        "of seed pairs where A scored higher (ties count one half). A difference is resolved when "
        "its intervals exclude zero."
    ]
    if shown.empty:
        parts.append("No two strategies share a seed and a metric: nothing to compare.")
    elif max_pairs < 2:
        parts.append(
            "One seed per strategy: there is no spread to estimate, so no comparison is resolved; "
            "run several seeds (e.g. seed=0,1,2) to compare strategies."
        )
    else:
        parts.append(
            f"{len(resolved)} of {len(shown)} comparisons are resolved; "
            f"{len(shown) - len(resolved)} are unresolved (an interval includes zero)."
        )
    not_applicable = int((table["n_pairs"] == 0).sum())
    if not_applicable:
        parts.append(
            f"{not_applicable} rows of comparisons.csv have no pairs (the metric does not apply "
            "to both strategies, or they share no seed) and are not shown."
        )
    if not comparisons.unpaired.empty:
        runs = comparisons.unpaired.drop_duplicates(["strategy", "seed", "folder"])
        listed = ", ".join(f"{r['strategy']} seed {r['seed']}" for _, r in runs.iterrows())
        parts.append(
            f"{len(runs)} runs have no partner with the same seed in at least one comparison and "
            f"are left out of those pairs: {listed}."
        )
    if not shown.empty and max_pairs >= 2 and shown["bootstrap_low"].isna().all():
        parts.append("No bootstrap: the runs have no predictions.npz (per-image results).")
    return Section(
        "Paired comparisons", " ".join(parts), COMPARISON_HEADERS, rows, "comparisons-table"
    )


def selection_section(table: pd.DataFrame) -> Section:
    """Test accuracy of the final stage under each selection protocol, per strategy."""
    rows = [
        [
            r["strategy"],
            PROTOCOL_LABELS[r["protocol"]],
            "—" if pd.isna(r["mean"]) else f"{100 * r['mean']:.1f}",
            _interval(r["ci_low"], r["ci_high"], signed=False),
            str(r["n"]),
        ]
        for _, r in table.iterrows()
    ]
    intro = (
        "The epoch each protocol selects from the same runs' final-stage history, and that "
        "epoch's test accuracy (the final stage's own test set: target top-1 for target-trained "
        "strategies, the source test set for the Fashion-MNIST baseline), mean and Student-t 95% "
        "interval over seeds. target-val is what training reports; oracle selects on the test "
        "set itself, so it is an upper bound, not a result."
    )
    if table.empty or (table["n"] == 0).all():
        intro += " No run recorded test accuracy per epoch, so no protocol could be applied."
    return Section("Model-selection protocols", intro, SELECTION_HEADERS, rows, "selection-table")
