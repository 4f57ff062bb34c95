from pathlib import Path

import pytest

from fashion_transfer import atomic


def test_write_text_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "metrics.json"
    atomic.write_text(target, "one")
    atomic.write_text(target, "two")
    assert target.read_text() == "two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["metrics.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "last.pt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic.replacing(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert list(tmp_path.glob(atomic.TEMP_GLOB)) == []


def test_remove_partial_files_clears_only_temp_files(tmp_path: Path) -> None:
    (tmp_path / ".last.pt.123.tmp").write_text("torn")
    (tmp_path / "last.pt").write_text("kept")
    atomic.remove_partial_files(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]
