"""Files the analysis writes: summary.md, figures (PNG + SVG, or a skip note), report.html."""

from __future__ import annotations

import re

import pandas as pd

from fashion_transfer.analysis.collect import collect_runs
from fashion_transfer.analysis.figures.common import domain_label
from fashion_transfer.analysis.report import synthetic_note

ALL = [
    "transfer_gap",
    "learning_curves",
    "shared_confusion",
    "samples",
    "data_efficiency",
    "gap_decomposition",
]


def test_summary_md_lists_failed_runs_and_labels_synthetic(analysed):
    sweep, out = analysed
    text = (out / "summary.md").read_text()
    assert text.startswith("# Sweep summary (synthetic: FashionSynth)\n")
    assert "17 runs: 15 completed, 2 failed." in text
    failed_section = text.split("## Failed runs")[1].split("## Figures")[0]
    for folder, reason in sweep.failed.items():
        assert f"| {folder} |" in failed_section and reason in failed_section
    assert "DeepFashion" not in text


def test_figures_exist_as_png_and_svg_and_skips_are_noted(analysed):
    _, out = analysed
    drawn = ALL[:4]
    for name in drawn:
        assert (out / f"{name}.png").stat().st_size > 5000
        assert (out / f"{name}.svg").read_text().lstrip().startswith("<?xml")
    for name in ("data_efficiency", "gap_decomposition"):
        assert not (out / f"{name}.png").exists() and not (out / f"{name}.svg").exists()
    summary = (out / "summary.md").read_text()
    report = (out / "report.html").read_text()
    assert "5. Data efficiency: skipped, the runs do not vary train_fraction." in summary
    assert "6. Gap decomposition: skipped, no in-domain Fashion-MNIST-view run" in summary
    assert 'id="fig-data_efficiency">5. Data efficiency: skipped' in report
    assert 'id="fig-gap_decomposition">6. Gap decomposition: skipped' in report


def test_all_six_figures_when_fraction_varies_and_fmnist_view_run_exists(analysed_full):
    _, out = analysed_full
    for name in ALL:
        assert (out / f"{name}.png").is_file() and (out / f"{name}.svg").is_file(), name
    summary = (out / "summary.md").read_text()
    assert "skipped" not in summary.split("## Figures")[1]
    assert re.search(r"; domain \+\d+\.\d( ± \d+\.\d)? pp \(n=\d seeds\)", summary)
    assert re.search(r"; RGB \+ resolution [+-]\d+\.\d( ± \d+\.\d)? pp", summary)
    # Synthetic results are labelled as such in the figures, never as DeepFashion.
    for name in ALL:
        svg = (out / f"{name}.svg").read_text()
        assert "DeepFashion" not in svg, name
    for name in ("transfer_gap", "shared_confusion", "data_efficiency", "gap_decomposition"):
        assert "FashionSynth wild (synthetic)" in (out / f"{name}.svg").read_text(), name


def test_report_html_is_self_contained(analysed):
    sweep, out = analysed
    html = (out / "report.html").read_text()
    assert html.count('<img src="data:image/png;base64,') == 7  # figures 1-4 and 7-9
    assert not re.search(r'(src|href)="(?!data:)', html)  # no external file or URL
    assert "<link" not in html and "<script" not in html
    assert '<table id="summary-table">' in html and '<table id="failed-runs">' in html
    assert '<table id="comparisons-table">' in html and '<table id="selection-table">' in html
    assert "0123456789abcdef0123456789abcdef01234567" in html  # git_commit
    assert "strategy=glob(*)" in html  # the sweep's multirun.yaml
    assert "(synthetic: FashionSynth)" in html
    for reason in sweep.failed.values():
        assert reason in html


def test_real_data_is_labelled_deepfashion(tmp_path, kit):
    """Only FashionSynth runs get the synthetic label; real data keeps its name."""
    sweep = kit.make_sweep(tmp_path / "s", seeds=(0,), broken=False, samples=False)
    for job in sweep.root.iterdir():
        metrics = job / "metrics.json"
        if metrics.is_file():
            text = metrics.read_text().replace("synth_studio", "fashion_mnist")
            text = text.replace("synth_wild", "deepfashion").replace(
                '"synthetic": true', '"synthetic": false'
            )
            metrics.write_text(text)
    frame = collect_runs([sweep.root])
    assert synthetic_note(frame) == ""
    assert domain_label(frame, "target") == "DeepFashion"
    assert domain_label(frame[frame["strategy"] == "fmnist_baseline"], "source") == "Fashion-MNIST"
    mixed = pd.concat([frame, collect_runs([kit.make_sweep(tmp_path / "t", seeds=(0,)).root])])
    assert "synthetic" in synthetic_note(mixed)


def test_failed_runs_stay_one_line_each_in_summary_md(tmp_path, kit):
    """Training may record a multi-line reason (a wrapped exception); the table must not break."""
    from fashion_transfer.analysis import stats
    from fashion_transfer.analysis.report import write_summary_md

    kit.write_job(tmp_path / "s" / "0", "adapter_scratch", 0)
    kit.write_job(tmp_path / "s" / "1", "adapter_scratch", 1, status="failed")
    metrics_file = tmp_path / "s" / "1" / "metrics.json"
    reason = "InstantiationException: Error in call to target 'x':\nDataError('missing | data')\nfull_key: source"
    metrics_file.write_text(
        metrics_file.read_text().replace(kit.failure, reason.replace("\n", "\\n"))
    )
    frame = collect_runs([tmp_path / "s"])
    write_summary_md(frame, stats.summarise(frame), [], tmp_path / "summary.md")
    failed = (tmp_path / "summary.md").read_text().split("## Failed runs")[1].split("## Figures")[0]
    rows = [line for line in failed.splitlines() if line.startswith(f"| {tmp_path / 's' / '1'} |")]
    assert len(rows) == 1
    assert rows[0].endswith("full_key: source |") and "missing \\| data" in rows[0]
