"""`python -m fashion_transfer.data.check`: summary keys, bad images by path, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from fashion_transfer.data.check import main

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--workers", "1"])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_summary_of_a_clean_root(df_root: Path, written: dict, capsys) -> None:
    code, out, _ = run(capsys, str(df_root), "--json")
    summary = json.loads(out)
    assert code == 0 and summary["usable"] is True
    assert {"splits", "categories", "bad_images", "clipped_boxes"} <= set(summary)
    assert summary["splits"] == {s: written["splits"].count(s) for s in ("train", "val", "test")}
    expected = Counter(written["categories"][label - 1] for label in written["labels"])
    assert summary["categories"] == {c: expected.get(c, 0) for c in written["categories"]}
    assert summary["empty_categories"] == [c for c in written["categories"] if c not in expected]
    assert summary["bad_images"] == [] and summary["clipped_boxes"] == 0


def test_corrupt_jpeg_is_reported_by_path(df_root: Path, written: dict, edit_lines, capsys) -> None:
    name = written["names"][written["splits"].index("test")]
    (df_root / "Img" / name).write_bytes((df_root / "Img" / name).read_bytes()[:500])
    line = written["splits"].index("train") + 3  # a good image's box: y_2 past the bottom
    edit_lines(
        df_root / "Anno/list_bbox.txt",
        lambda ls: [*ls[: line - 1], ls[line - 1].rsplit(" ", 1)[0] + " 999", *ls[line:]],
    )
    code, out, _ = run(capsys, str(df_root), "--json")
    summary = json.loads(out)
    assert [bad["path"] for bad in summary["bad_images"]] == [f"Img/{name}"]
    assert summary["splits"]["test"] == written["splits"].count("test") - 1
    assert summary["clipped_boxes"] == 1
    assert code == 1 and summary["usable"] is False  # 1 bad test image > 1%: training would refuse
    code, out, _ = run(capsys, str(df_root), "--max-bad-fraction", "0.5")
    assert code == 0 and f"WARNING Img/{name}" in out
    assert f"empty categories ({len(summary['empty_categories'])})" in out


def test_layout_error_is_one_line_and_exit_2(df_root: Path, capsys: pytest.CaptureFixture) -> None:
    (df_root / "Anno/list_bbox.txt").unlink()
    code, out, err = run(capsys, str(df_root), "--json")
    assert code == 2 and err.startswith("error: missing list file") and err.count("\n") == 1
    # with --json the error is JSON on stdout too, so a pipeline into a JSON reader sees it
    assert json.loads(out) == {"error": err.removeprefix("error: ").strip(), "exit_code": 2}
    code, out, _ = run(capsys, str(df_root))
    assert code == 2 and out == ""


@pytest.mark.slow  # a fresh interpreter imports torch: seconds
def test_runs_as_a_module(df_root: Path) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, "-m", "fashion_transfer.data.check", str(df_root / "absent")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2 and "not found" in proc.stderr


def test_each_bad_image_says_why(df_root: Path, written: dict, capsys) -> None:
    """A listed file that is absent, a truncated JPEG and a file that is no image at all."""
    test = [n for n, s in zip(written["names"], written["splits"], strict=True) if s == "test"]
    missing, truncated, foreign = (df_root / "Img" / n for n in test[:3])
    missing.unlink()
    truncated.write_bytes(truncated.read_bytes()[:500])
    foreign.write_text("not an image\n")
    code, out, _ = run(capsys, str(df_root), "--json", "--max-bad-fraction", "1")
    reasons = {bad["path"]: bad["reason"] for bad in json.loads(out)["bad_images"]}
    assert code == 0
    assert reasons[f"Img/{test[0]}"] == "missing file (listed, but not on disk)"
    assert reasons[f"Img/{test[1]}"].startswith("undecodable: libjpeg-turbo: ")
    assert "Pillow: not an image format it knows" in reasons[f"Img/{test[2]}"]
    assert not any("object at 0x" in r for r in reasons.values())
    code, out, _ = run(capsys, str(df_root), "--max-bad-fraction", "1")
    assert f"WARNING Img/{test[0]}: missing file" in out


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--max-bad-fraction", "5", "between 0 and 1"),
        ("--max-bad-fraction", "-0.1", "between 0 and 1"),
        ("--max-bad-fraction", "nan", "finite"),
        ("--workers", "0", ">= 1"),
        ("--workers", "two", "whole number"),
    ],
)
def test_nonsense_options_are_one_line_and_json_with_json(
    df_root: Path, capsys, option: str, value: str, says: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([str(df_root), option, value])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1
    assert err.startswith(f"error: argument {option}: ") and says in err
    with pytest.raises(SystemExit):
        main([str(df_root), "--json", option, value])
    out = capsys.readouterr().out
    assert json.loads(out)["exit_code"] == 2 and says in json.loads(out)["error"]
