"""Bad input the analysis meets inside a sweep or on its way out: one line, or a failed row."""

from __future__ import annotations

import pytest

from fashion_transfer.analysis.collect import collect_runs
from fashion_transfer.analysis.wandb_source import read_api_runs
from fashion_transfer.analyze import main
from fashion_transfer.errors import UserError


def test_output_that_cannot_be_written_is_one_line(tmp_path, kit, capsys, monkeypatch):
    """What a read-only or full disk does (simulated: root may write anywhere)."""
    from fashion_transfer.analysis import report

    kit.write_job(tmp_path / "s" / "0", "adapter_scratch", 0)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "out" / "summary.md"))

    monkeypatch.setattr(report, "write_summary_md", refuse)
    assert main([str(tmp_path / "s"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: cannot write the analysis into ")
    assert "Permission denied" in err and "--out DIR" in err


def test_wandb_api_without_key_or_network_is_one_user_error():
    import wandb.errors

    class NoNetwork:
        def runs(self, path, filters):
            raise wandb.errors.CommError("Could not connect to api.wandb.ai\nretrying")

    with pytest.raises(UserError, match=r"--wandb me/proj: the W&B API did not answer") as err:
        read_api_runs("me/proj", "g", NoNetwork())
    assert "\n" not in str(err.value) and "Could not connect" in str(err.value)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        (".hydra/config.yaml", "a: [", ".hydra/config.yaml unreadable: "),
        (".hydra/config.yaml", "- 1\n", ".hydra/config.yaml unreadable: holds a list, not a dict"),
        (".hydra/overrides.yaml", "a: 1\n", ".hydra/overrides.yaml unreadable: holds a dict"),
        ("metrics.json", "[1, 2]", "metrics.json unreadable: holds a list, not a dict"),
        ("metrics.json", '{"status": ', "metrics.json unreadable: "),
    ],
)
def test_unreadable_run_files_make_a_failed_row_naming_the_file(
    tmp_path, kit, name, content, reason
):
    kit.write_job(tmp_path / "s" / "0", "adapter_scratch", 0)
    kit.write_job(tmp_path / "s" / "1", "adapter_scratch", 1)
    (tmp_path / "s" / "1" / name).write_text(content)
    frame = collect_runs([tmp_path / "s"]).set_index("folder")
    row = frame.loc[str(tmp_path / "s" / "1")]
    assert row["status"] == "failed" and row["failure_reason"].startswith(reason)
    assert frame.loc[str(tmp_path / "s" / "0"), "status"] == "completed"


def test_a_broken_samples_file_is_warned_about_once_and_the_report_still_written(
    tmp_path, kit, caplog
):
    kit.write_job(tmp_path / "s" / "0", "adapter_scratch", 0, samples=True)
    kit.write_job(tmp_path / "s" / "1", "adapter_scratch", 1, samples=True)
    (tmp_path / "s" / "0" / "samples.npz").write_text("not an npz")
    assert main([str(tmp_path / "s")]) == 0
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1  # once, though three rows of the grid looked at the file
    assert warned[0].startswith(f"warning: {tmp_path / 's' / '0' / 'samples.npz'} unreadable")
    assert (tmp_path / "s" / "analysis" / "samples.png").is_file()  # drawn from the other run


def test_out_is_rewritten_when_an_earlier_analysis_wrote_it_and_refused_otherwise(
    tmp_path, kit, capsys
):
    kit.write_job(tmp_path / "s" / "0", "adapter_scratch", 0)
    out = tmp_path / "out"
    assert main([str(tmp_path / "s"), "--out", str(out)]) == 0
    assert main([str(tmp_path / "s"), "--out", str(out)]) == 0  # its own earlier analysis
    capsys.readouterr()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "summary.md").write_text("the user's notes\n")
    assert main([str(tmp_path / "s"), "--out", str(mine)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --out {mine} holds summary.md, which no earlier analysis")
    assert (mine / "summary.md").read_text() == "the user's notes\n"
    assert sorted(p.name for p in mine.iterdir()) == ["summary.md"]
