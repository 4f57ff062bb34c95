"""summary.md and a self-contained report.html from the runs, their statistics and figures.

The report must open from disk anywhere (a laptop after `scp`, an artifact store), so it has
no external assets: figures are embedded as base64 PNG, styles are inline, and the sweep's
config and git commit are printed in it so a reader can trace every number to its code.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from fashion_transfer import atomic
from fashion_transfer.analysis import stats
from fashion_transfer.analysis.figures.common import FigureOutput, domain_label
from fashion_transfer.analysis.rows import OBJECT_COLUMNS

COLUMNS = [  # (metric, header); wall time is in seconds, everything else in percent
    ("source_test_acc", "source test"),
    ("target_top1", "target top-1"),
    ("target_top3", "target top-3"),
    ("target_top5", "target top-5"),
    ("target_macro_acc", "target macro"),
    ("shared_acc", "shared 6-class"),
    ("reverse_acc", "reverse"),
    ("wall_time_s", "wall time (s)"),
]
CSS = """
body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right;white-space:nowrap}
#failed-runs td,#failed-runs th{text-align:left;white-space:normal}
th:first-child,td:first-child{text-align:left}
.table-scroll{overflow-x:auto;max-width:100%} #summary-table td:first-child{white-space:normal;min-width:14em}
thead{background:#f3f3f3} .failed td{color:#a00} .note{color:#555}
figure{margin:2em 0} img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#444;font-size:.9em;margin-top:.4em} pre{background:#f7f7f7;padding:1em;overflow:auto}
.skipped{color:#8a6d3b}
"""


def synthetic_note(frame: pd.DataFrame) -> str:
    """Title suffix: FashionSynth results must never pass for DeepFashion results.

    Judged on the completed runs (the ones numbers come from), or on all runs when none completed.
    """
    done = stats.completed(frame)
    flags = (done if not done.empty else frame)["synthetic"].dropna().astype(bool)
    if flags.empty or not flags.any():
        return ""
    return (
        " (synthetic: FashionSynth)"
        if flags.all()
        else " (mixed: some runs on synthetic FashionSynth)"
    )


def table_cells(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Headers and formatted cells of the per-strategy table, shared by Markdown and HTML."""
    headers = ["strategy", "runs", "failed", *[h for _, h in COLUMNS]]
    rows = []
    for _, r in table.iterrows():
        cells = [r["label"], str(r["runs"]), str(r["failed"])]
        for metric, _ in COLUMNS:
            cells.append(
                stats.format_cell(
                    r[f"{metric}_mean"],
                    r[f"{metric}_ci95"],
                    r[f"{metric}_n"],
                    percent=metric != "wall_time_s",
                )
            )
        rows.append(cells)
    return headers, rows


def failed_runs(frame: pd.DataFrame) -> pd.DataFrame:
    """Folder, strategy, seed and reason of every run that did not complete, as text.

    A seed that is not an integer (a job of `-m seed=0,l`) is shown as its config wrote it.
    """
    failed = frame[frame["status"] != "completed"]
    table = failed[["folder", "strategy", "seed", "failure_reason"]].astype(object)
    typed = failed["config"].map(lambda c: c.get("seed") if isinstance(c, dict) else None)
    table["seed"] = table["seed"].where(table["seed"].notna(), typed)
    return table.where(table.notna(), "?").astype(str)


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    # A cell must stay on one line (a multi-line failure_reason would break the table).
    lines += [
        "| " + " | ".join(" ".join(str(c).split()).replace("|", "\\|") for c in row) + " |"
        for row in rows
    ]
    return "\n".join(lines)


def intro(frame: pd.DataFrame) -> str:
    """One paragraph: how many runs, which data, how to read the numbers."""
    done = stats.completed(frame)
    names = {}
    for side in ("source", "target"):
        known = done[f"{side}_dataset"].dropna()
        names[side] = domain_label(done, side) if not known.empty else "none recorded"
    return (
        f"{len(frame)} runs: {len(done)} completed, {len(frame) - len(done)} failed. "
        f"Source: {names['source']}; target: {names['target']}. Accuracies in percent, as mean ± 95% "
        "confidence interval over seeds (Student's t); n=1 means a single run, no interval. "
        "Only completed runs enter the means."
    )


def write_summary_md(
    frame: pd.DataFrame,
    table: pd.DataFrame,
    figures: list[FigureOutput],
    path: Path,
    sections: Sequence[Any] = (),
) -> None:
    """summary.md: per-strategy table, failed runs by folder and reason, figures drawn or skipped."""
    headers, rows = table_cells(table)
    failed = failed_runs(frame)
    parts = [
        f"# Sweep summary{synthetic_note(frame)}",
        "",
        intro(frame),
        "",
        _md_table(headers, rows),
        "",
        *[section.markdown() for section in sections],  # comparisons, selection protocols
    ]
    parts += ["## Failed runs", ""]
    if failed.empty:
        parts.append("None.")
    else:
        parts.append(
            _md_table(["folder", "strategy", "seed", "reason"], failed.astype(str).values.tolist())
        )
    parts += ["", "## Figures", ""]
    for fig in figures:
        if fig.skipped:
            parts.append(f"- {fig.title}: skipped, {fig.skipped}.")
        else:
            parts.append(f"- {fig.title}: `{fig.png.name}`, `{fig.svg.name}`. {fig.caption}")
    atomic.write_text(path, "\n".join(parts) + "\n")


def _html_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], table_id: str, row_class: str = ""
) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        f"<tr{f' class={row_class!r}' if row_class else ''}>"
        + "".join(f"<td>{html.escape(str(c))}</td>" for c in row)
        + "</tr>"
        for row in rows
    )
    table = f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    return f'<div class="table-scroll">{table}</div>'  # scrolls sideways where wider than the page


def _figure_html(fig: FigureOutput) -> str:
    if fig.skipped:
        return f'<p class="skipped" id="fig-{fig.key}">{html.escape(fig.title)}: skipped, {html.escape(fig.skipped)}.</p>'
    data = base64.b64encode(fig.png.read_bytes()).decode("ascii")
    return (
        f'<figure id="fig-{fig.key}"><img src="data:image/png;base64,{data}" alt="{html.escape(fig.title)}">'
        f"<figcaption><b>{html.escape(fig.title)}.</b> {html.escape(fig.caption)} "
        f"(files: {html.escape(fig.png.name)}, {html.escape(fig.svg.name)})</figcaption></figure>"
    )


def sweep_configs(inputs: Sequence[str], frame: pd.DataFrame) -> list[tuple[str, str]]:
    """(title, YAML text) per input: Hydra's multirun.yaml, else the first run's config."""
    out = []
    for item in inputs:
        multirun = Path(item) / "multirun.yaml"
        if multirun.is_file():
            out.append((str(multirun), multirun.read_text(encoding="utf-8")))
    if not out:
        first = frame[frame["config"].notna()].head(1)
        for _, run in first.iterrows():
            out.append(
                (
                    f"{run['folder']} (config of the first run)",
                    yaml.safe_dump(run["config"], sort_keys=False),
                )
            )
    return out


def write_report_html(
    frame: pd.DataFrame,
    table: pd.DataFrame,
    figures: list[FigureOutput],
    inputs: Sequence[str],
    path: Path,
    sections: Sequence[Any] = (),
) -> None:
    """report.html: everything in one file that opens from disk without a network."""
    title = f"fashion-transfer analysis{synthetic_note(frame)}"
    headers, rows = table_cells(table)
    failed = failed_runs(frame)
    commits = sorted(str(c) for c in frame["git_commit"].dropna().unique())
    commit_text = ", ".join(commits) if commits else "unknown (no run recorded git_commit)"
    if len(commits) > 1:
        commit_text = f"runs come from {len(commits)} different commits: {commit_text}"
    csv_rows = frame.drop(columns=[c for c in OBJECT_COLUMNS if c in frame])
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="note">Generated {datetime.now(UTC):%Y-%m-%d %H:%M UTC} from '
        f"{html.escape(', '.join(map(str, inputs)))}. Git commit: <code>{html.escape(commit_text)}</code></p>",
        f"<p>{html.escape(intro(frame))}</p>",
        "<h2>Summary</h2>",
        _html_table(headers, rows, "summary-table"),
        *[section.html() for section in sections],  # comparisons, selection protocols
        "<h2>Failed runs</h2>",
        "<p>None.</p>"
        if failed.empty
        else _html_table(
            ["folder", "strategy", "seed", "reason"],
            failed.astype(str).values.tolist(),
            "failed-runs",
            "failed",
        ),
        "<h2>Figures</h2>",
        *[_figure_html(f) for f in figures],
        "<h2>All runs</h2>",
        f"<details><summary>results.csv ({len(frame)} rows)</summary>"
        + _html_table(list(csv_rows.columns), csv_rows.astype(str).values.tolist(), "runs-table")
        + "</details>",
        "<h2>Configuration</h2>",
        *[
            f"<h3>{html.escape(name)}</h3><pre>{html.escape(text)}</pre>"
            for name, text in sweep_configs(inputs, frame)
        ],
    ]
    page = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )
    atomic.write_text(path, page)
