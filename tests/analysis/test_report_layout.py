"""What a reader sees: failed runs of any seed listed, figures that fit their canvas, tables that
fit or scroll, and no figure drawn from data that cannot show what it claims."""

from __future__ import annotations

import warnings
from itertools import combinations, product

import matplotlib
import pytest
import yaml

from fashion_transfer.analysis.collect import collect_runs
from fashion_transfer.analysis.figures import common, headline
from fashion_transfer.analyze import main

STRATEGIES = [
    "fmnist_baseline",
    "deepfashion_scratch",
    "deepfashion_imagenet",
    "adapter_scratch",
    "adapter_pretrained",
]


def test_failed_job_with_a_seed_that_is_not_an_integer_is_listed(tmp_path, kit):
    """`-m seed=0,l` leaves a job whose config says `seed: l`; the report still lists it."""
    kit.write_job(tmp_path / "s" / "0", "adapter_scratch", 0)
    job = tmp_path / "s" / "1"
    kit.write_job(job, "adapter_scratch", 1, status=None)
    config = yaml.safe_load((job / ".hydra" / "config.yaml").read_text())
    (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump({**config, "seed": "l"}))
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(["seed=l"]))

    assert main([str(tmp_path / "s")]) == 0
    out = tmp_path / "s" / "analysis"
    failed = (out / "summary.md").read_text().split("## Failed runs")[1].split("## Figures")[0]
    assert f"| {job} | adapter_scratch | l | no metrics.json" in failed
    assert f"<td>{job}</td><td>adapter_scratch</td><td>l</td>" in (out / "report.html").read_text()


def _inside(inner, outer) -> bool:
    return (
        inner.x0 >= outer.x0 - 0.5
        and inner.x1 <= outer.x1 + 0.5
        and inner.y0 >= outer.y0 - 0.5
        and inner.y1 <= outer.y1 + 0.5
    )


@pytest.mark.parametrize(
    "strategies",
    [
        ("fmnist_baseline", "adapter_pretrained"),
        ("deepfashion_scratch", "deepfashion_imagenet"),
        ("adapter_scratch",),
        tuple(STRATEGIES),
    ],
    ids=lambda s: "+".join(s),
)
def test_transfer_gap_keeps_legend_and_labels_on_the_canvas(tmp_path, kit, strategies):
    for i, (strategy, seed) in enumerate(product(strategies, (0, 1))):
        kit.write_job(tmp_path / str(i), strategy, seed)
    frame = collect_runs([tmp_path])
    with warnings.catch_warnings(), matplotlib.rc_context(common.STYLE):
        warnings.simplefilter("error")  # e.g. "constrained_layout not applied"
        fig, _ = headline.transfer_gap(frame)
        fig.draw_without_rendering()
        ax = fig.axes[0]
        canvas = fig.bbox
        assert len(fig.legends) == 1 and _inside(fig.legends[0].get_window_extent(), canvas)
        assert _inside(ax.title.get_window_extent(), canvas)
        ticks = [t.get_window_extent() for t in ax.get_xticklabels()]
        assert all(_inside(t, canvas) for t in ticks)
        for left, right in combinations(sorted(ticks, key=lambda b: b.x0), 2):
            assert left.x1 <= right.x0, "x tick labels overlap"
        assert ax.get_window_extent().width > 0.5 * canvas.width


def test_data_efficiency_is_skipped_when_each_strategy_has_one_fraction(tmp_path, kit):
    """The demo's shape: the baseline at 0.25 of its source, the others at all of the target."""
    kit.write_job(tmp_path / "s" / "0", "fmnist_baseline", 0, 0.25)
    kit.write_job(tmp_path / "s" / "1", "deepfashion_scratch", 0, 1.0)
    assert main([str(tmp_path / "s")]) == 0
    out = tmp_path / "s" / "analysis"
    assert not (out / "data_efficiency.png").exists()
    note = "5. Data efficiency: skipped, every strategy ran at a single train_fraction"
    assert note in (out / "summary.md").read_text()
    assert note in (out / "report.html").read_text()


def test_every_report_table_sits_in_a_sideways_scrolling_box(tmp_path, kit):
    """Without a browser: the structure test_analysis_browser checks the rendering of."""
    from fashion_transfer.analysis.report import CSS

    kit.write_job(tmp_path / "s" / "0", "adapter_scratch", 0)
    kit.write_job(tmp_path / "s" / "1", "adapter_scratch", 1, status="failed")
    assert main([str(tmp_path / "s")]) == 0
    page = (tmp_path / "s" / "analysis" / "report.html").read_text()
    assert ".table-scroll{overflow-x:auto" in CSS.replace(" ", "")
    for table in ("summary-table", "failed-runs", "runs-table"):
        assert f'<div class="table-scroll"><table id="{table}">' in page
    assert page.count("<table") == page.count('<div class="table-scroll"><table')
