"""`python -m fashion_transfer.data.check ROOT --view-stats`: the view's fidelity table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fashion_transfer.data import fmnist_view as fv
from fashion_transfer.data.check import main
from fashion_transfer.data.check_view import evenly_spaced

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--workers", "1"])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_has_every_background_and_the_reference(df_root: Path, written: dict, capsys) -> None:
    code, out, err = run(capsys, str(df_root), "--view-stats", "--json")
    report = json.loads(out)
    assert code == 0 and err == ""
    assert report["images"] == written["splits"].count("test") == report["listed"]
    assert list(report["views"]) == list(fv.BACKGROUNDS) and report["default"] == "segment"
    assert report["fashion_mnist"] == fv.FMNIST_STATS
    for stats in report["views"].values():
        assert set(fv.FMNIST_STATS) <= set(stats)
        assert stats["within_bounds"] == fv.within_bounds(stats)
    assert report["views"]["keep"]["zero_fraction"] < report["views"]["segment"]["zero_fraction"]


def test_text_table_limit_and_split(df_root: Path, written: dict, capsys) -> None:
    code, out, _ = run(capsys, str(df_root), "--view-stats", "--split", "train", "--limit", "3")
    lines = out.splitlines()
    assert code == 0 and f"3 of {written['splits'].count('train')} train images" in lines[0]
    assert lines[3].startswith("| Fashion-MNIST train | 72.9 | 90.0 | 0.502 | 11.9 | 231.6 |")
    assert [line.split(" |")[0] for line in lines[4:7]] == [
        "| fmnist_background=keep",
        "| fmnist_background=flatten",
        "| fmnist_background=segment (default)",
    ]
    assert lines[-1].startswith("bounds for the default view: zero_fraction >= 0.3")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--split", "tset"), "error: --split tset: choose one of train, val, test\n"),
        (("--limit", "-1"), "error: --limit -1: a number of images, or 0 for the whole split\n"),
    ],
)
def test_bad_options_are_one_line_errors(df_root: Path, capsys, args, message) -> None:
    code, out, err = run(capsys, str(df_root), "--view-stats", *args)
    assert code == 2 and out == "" and err == message


def test_a_missing_root_is_one_line(tmp_path: Path, capsys) -> None:
    code, out, err = run(capsys, str(tmp_path / "absent"), "--view-stats")
    assert code == 2 and out == "" and err.startswith("error: ") and err.count("\n") == 1


def test_evenly_spaced() -> None:
    assert np.array_equal(evenly_spaced(5, 0), np.arange(5))
    assert np.array_equal(evenly_spaced(5, 9), np.arange(5))
    assert np.array_equal(evenly_spaced(101, 3), [0, 50, 100])
