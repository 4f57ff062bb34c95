"""The run record (`fashion_transfer.record`): its JSON, its reader, and the README's table of it."""

from __future__ import annotations

import json
import math
import re
from dataclasses import fields
from pathlib import Path

import pytest

from fashion_transfer import record
from fashion_transfer.record import EpochEntry, RunRecord, StageSummary

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "training" / "smoke_golden.json"


def _names(kind: type) -> list[str]:
    return [f.name for f in fields(kind)]


def _readme_table() -> dict[str, str]:
    """README's metrics.json table: documented key -> its row's meaning column."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## metrics.json\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        for key in re.findall(r"`([a-z_0-9]+)`", cells[0]):
            rows[key] = cells[2]
    return rows


def _epoch(**changes) -> EpochEntry:
    base = {"stage": "source", "epoch": 1, "global_epoch": 1, "train_loss": 1.0, "train_acc": 0.5}
    more = {"lr": 0.1, "seconds": 2.0, "val_loss": 1.1, "val_acc": 0.4, "frozen": False}
    return EpochEntry(**{**base, **more, **changes})


def test_the_readme_documents_every_field_and_no_other():
    documented = _readme_table()
    assert set(documented) == set(_names(RunRecord))


def test_the_readme_documents_every_history_and_stage_key():
    table = _readme_table()
    history = set(re.findall(r"`([a-z_0-9]+)`", table["history"]))
    assert history == set(_names(EpochEntry))
    stages = set(re.findall(r"`([a-z_0-9]+)`", table["stages"]))
    assert stages == set(_names(StageSummary))


def test_the_record_writes_the_keys_of_the_golden_sweep_in_their_order():
    """smoke_golden.json is what the code before this module (a27bb7d) wrote in a smoke sweep, keys
    in written order; its numbers are one machine's (test_smoke_golden_slow.py compares numbers
    live, both codes on the same machine), its keys any machine's."""
    golden = json.loads(GOLDEN.read_text())
    assert len(golden) == 5
    for strategy, run in golden.items():
        assert run["keys"] == list(RunRecord().to_json()), strategy
        stage_keys = [k for k in _names(StageSummary) if k != "seconds"]  # timings left out
        for summary in run["metrics"]["stages"].values():
            assert list(summary) == stage_keys, strategy
        epoch_keys = [k for k in _names(EpochEntry) if k != "seconds"]
        for entry in run["metrics"]["history"]:
            expected = epoch_keys if "test_acc" in entry else epoch_keys[:-1]
            assert list(entry) == expected, strategy


def test_an_epoch_outside_the_final_stage_has_no_test_acc_key():
    entry = _epoch()
    assert "test_acc" not in record.as_json(entry)
    entry.test_acc = 0.3
    assert record.as_json(entry)["test_acc"] == 0.3


def test_json_round_trip_keeps_every_part(tmp_path):
    rec = RunRecord(strategy="adapter_scratch", seed=1, wall_time_s=3.5, test_acc=0.7)
    rec.history = [_epoch(), _epoch(stage="target", global_epoch=2, test_acc=0.6)]
    rec.stages = {"source": StageSummary(dataset="synth_studio", epochs=1, best_epoch=1)}
    rec.tune = record.TuneTrial(seed=3, trial=0, hparams={"lr": 0.01}, space={"lr": [0.1, 1]})
    rec.data = {"source": {"splits": {"train": 3}}}
    path = tmp_path / "run" / "metrics.json"
    record.write(path, rec)
    assert record.read(path) == rec
    assert json.loads(path.read_text()) == rec.to_json()
    assert list(tmp_path.joinpath("run").iterdir()) == [path]  # no temp file left beside it


def test_non_finite_numbers_are_written_as_null(tmp_path):
    rec = RunRecord(val_acc=math.nan, history=[_epoch(val_loss=math.inf)])
    record.write(tmp_path / "metrics.json", rec)
    data = json.loads((tmp_path / "metrics.json").read_text())
    assert data["val_acc"] is None and data["history"][0]["val_loss"] is None


def test_a_missing_key_takes_its_default_and_load_keeps_only_what_the_file_holds(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"schema_version": 1, "status": "failed", "seed": 2}))
    assert record.load(path) == {"schema_version": 1, "status": "failed", "seed": 2}
    rec = record.read(path)
    assert (rec.status, rec.seed, rec.strategy, rec.history) == ("failed", 2, None, [])


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("[1, 2]", "holds a list, not a dict"),
        ('{"status": ', "Expecting value"),
        ('{"statuz": "completed"}', "RunRecord: unknown keys statuz"),
        ('{"history": [{"stage": "s"}]}', "EpochEntry"),
        ('{"stages": {"s": {"epochz": 1}}}', "StageSummary: unknown keys epochz"),
        ('{"history": 3}', "not"),
    ],
)
def test_content_that_is_not_a_run_record_is_a_record_error(tmp_path, content, says):
    path = tmp_path / "metrics.json"
    path.write_text(content)
    with pytest.raises(record.RecordError, match=re.escape(says)):
        record.read(path)


def test_another_schema_version_names_the_file(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"schema_version": 2}))
    with pytest.raises(record.SchemaMismatch, match=f"{re.escape(str(path))}: schema_version 2"):
        record.load(path)


def test_the_headline_lists_name_record_fields():
    names = set(_names(RunRecord))
    for keys in (record.HEADLINE, record.SUMMARY_METRICS, record.STATUS_FIGURES):
        assert set(keys) <= names
    rec = RunRecord(test_acc=0.5, best_epoch=2)
    assert rec.headline() == record.headline_of(rec.to_json())
    assert list(rec.headline()) == list(record.HEADLINE)


def test_shared_scores_fill_the_shared_fields():
    rec = RunRecord()
    score = record.SharedScore(acc=0.5, macro=0.4, ece=0.1, n=12, confusion=[[1, 0], [0, 1]])
    rec.set_shared(score, "mapped_predictions", ["a", "b"])
    assert (rec.shared_acc, rec.shared_macro_acc, rec.shared_ece, rec.shared_n) == (
        0.5,
        0.4,
        0.1,
        12,
    )
    assert (rec.shared_mode, rec.shared_classes) == ("mapped_predictions", ["a", "b"])
    assert rec.shared_confusion == [[1, 0], [0, 1]]
