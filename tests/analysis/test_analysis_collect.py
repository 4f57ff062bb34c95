"""Reading runs: metrics.json job folders, failed and killed jobs, W&B offline folders, the W&B API."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from fashion_transfer.analysis.collect import collect_runs
from fashion_transfer.analysis.rows import CSV_COLUMNS, NO_METRICS, RUNNING
from fashion_transfer.analysis.wandb_source import collect_api, read_offline_run
from fashion_transfer.errors import UserError

CSV_FIELDS = [
    "strategy",
    "seed",
    "synthetic",
    "source_dataset",
    "source_view",
    "target_dataset",
    "target_view",
    "train_fraction",
    "model",
    "backbone",
    "pretrained",
    "source_test_acc",
    "target_top1",
    "target_top3",
    "target_top5",
    "target_macro_acc",
    "shared_acc",
    "shared_macro_acc",
    "shared_n",
    "shared_mode",
    "reverse_acc",
    "reverse_n",
    "wall_time_s",
    "params",
    "git_commit",
]


def same(csv_value: object, fixture_value: object) -> bool:
    """CSV cell equals the metrics.json value (null <-> empty cell, numbers exactly)."""
    if fixture_value is None:
        return pd.isna(csv_value)
    if isinstance(fixture_value, bool):
        return bool(csv_value) == fixture_value
    if isinstance(fixture_value, int | float):
        return math.isclose(float(csv_value), float(fixture_value), rel_tol=0, abs_tol=1e-12)
    return str(csv_value) == str(fixture_value)


def test_results_csv_values_equal_fixture_values(analysed):
    sweep, out = analysed
    csv = pd.read_csv(out / "results.csv").set_index("folder")
    assert list(csv.reset_index().columns) == CSV_COLUMNS
    assert len(csv) == len(sweep.metrics) + len(sweep.failed)  # 15 completed, 1 failed, 1 killed
    for folder, metrics in sweep.metrics.items():
        row = csv.loc[folder]
        assert row["status"] == "completed"
        for key in CSV_FIELDS:
            assert same(row[key], metrics[key]), (folder, key, row[key], metrics[key])


def test_failed_and_killed_runs_are_rows_marked_failed(analysed):
    sweep, out = analysed
    csv = pd.read_csv(out / "results.csv").set_index("folder")
    for folder, reason in sweep.failed.items():
        assert csv.loc[folder, "status"] == "failed"
        assert csv.loc[folder, "failure_reason"] == reason
    killed = csv.loc[[f for f, r in sweep.failed.items() if r == NO_METRICS][0]]
    # Identity of a job that died before metrics.json comes from .hydra/config.yaml.
    assert (killed["strategy"], killed["seed"], killed["run_status"]) == (
        "deepfashion_scratch",
        98,
        "missing",
    )
    assert (csv["status"] == "completed").sum() == 15


def test_running_status_counts_as_incomplete(tmp_path, kit):
    kit.write_job(tmp_path / "run", "adapter_pretrained", 4, status="running")
    frame = collect_runs([tmp_path / "run"])  # a single run folder is a valid input
    assert len(frame) == 1
    assert frame.loc[0, "status"] == "failed"
    assert frame.loc[0, "failure_reason"] == RUNNING
    assert frame.loc[0, "run_status"] == "running"


def test_unreadable_metrics_is_a_failed_row_and_newer_schema_is_an_error(tmp_path, kit):
    kit.write_job(tmp_path / "sweep" / "0", "adapter_scratch", 0)
    (tmp_path / "sweep" / "0" / "metrics.json").write_text("{truncated")
    frame = collect_runs([tmp_path / "sweep"])
    assert frame.loc[0, "status"] == "failed"
    assert frame.loc[0, "failure_reason"].startswith("metrics.json unreadable")
    assert frame.loc[0, "strategy"] == "adapter_scratch"  # from .hydra/config.yaml

    newer = kit.make_metrics("adapter_scratch", 0) | {"schema_version": 2}
    (tmp_path / "sweep" / "0" / "metrics.json").write_text(json.dumps(newer))
    with pytest.raises(UserError, match="schema_version 2"):
        collect_runs([tmp_path / "sweep"])


def test_no_runs_and_missing_folder_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="no runs found"):
        collect_runs([tmp_path])
    with pytest.raises(UserError, match="no such folder"):
        collect_runs([tmp_path / "nope"])


def test_cli_prints_error_line_and_exits_2(tmp_path, capsys):
    from fashion_transfer.analyze import main

    assert main([str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def _offline_folder(root: Path, metrics: dict, run_id: str) -> Path:
    """A W&B offline run folder as older clients (and synced runs) leave it: files/ with JSON+YAML."""
    run = root / "wandb" / f"offline-run-20260101_000000-{run_id}"
    (run / "files").mkdir(parents=True)
    summary = {k: v for k, v in metrics.items() if not isinstance(v, list | dict)}
    summary |= {"_runtime": 12.5, "_step": 7, "_wandb": {"runtime": 12}}
    (run / "files" / "wandb-summary.json").write_text(json.dumps(summary))
    config = {
        "_wandb": {"value": {"cli_version": "0.31.0"}, "desc": None},
        "strategy": {"value": {"name": metrics["strategy"]}, "desc": None},
        "seed": {"value": metrics["seed"], "desc": None},
    }
    (run / "files" / "config.yaml").write_text(yaml.safe_dump(config))
    return run


def test_wandb_offline_files_folder(tmp_path, kit):
    metrics = kit.make_metrics("adapter_pretrained", 2)
    run = _offline_folder(tmp_path, metrics, "abc123")
    frame = collect_runs([tmp_path / "wandb"])
    assert len(frame) == 1
    row = frame.iloc[0]
    assert row["folder"] == str(run) and row["origin"] == "wandb-offline"
    assert row["status"] == "completed"
    for key in ("strategy", "seed", "shared_acc", "target_top1", "source_test_acc", "wall_time_s"):
        assert same(row[key], metrics[key]), key
    assert row["config"] == {"strategy": {"name": "adapter_pretrained"}, "seed": 2}


def test_wandb_folder_inside_a_job_is_not_counted_twice(tmp_path, kit):
    metrics = kit.write_job(tmp_path / "sweep" / "0", "adapter_scratch", 0)
    _offline_folder(tmp_path / "sweep" / "0", metrics, "dup")
    frame = collect_runs([tmp_path / "sweep"])
    assert len(frame) == 1 and frame.loc[0, "origin"] == "metrics.json"


def test_wandb_offline_transaction_log_written_by_real_client(tmp_path, kit):
    """wandb-core writes no files/wandb-summary.json offline: the run-*.wandb log must be replayed."""
    metrics = kit.make_metrics("deepfashion_imagenet", 1)
    summary = {k: v for k, v in metrics.items() if not isinstance(v, list | dict)}
    del summary["group"], summary["run_name"]  # these then come from the W&B run record
    code = (
        "import json, sys, wandb\n"
        "summary, config = json.loads(sys.argv[1]), json.loads(sys.argv[2])\n"
        "run = wandb.init(project='ft', group='g1', job_type=config['strategy']['name'],"
        " config=config, dir=sys.argv[3])\n"
        "run.log({'val_acc': 0.5})\n"
        "run.summary.update(summary)\n"
        "run.finish()\n"
    )
    config = {
        "strategy": {"name": "deepfashion_imagenet"},
        "seed": 1,
        "target": {"name": "synth_wild"},
    }
    env = {
        **os.environ,
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "WANDB_DIR": str(tmp_path),
    }
    env.pop("WANDB_API_KEY", None)
    subprocess.run(
        [sys.executable, "-c", code, json.dumps(summary), json.dumps(config), str(tmp_path)],
        check=True,
        env=env,
        timeout=120,
    )
    runs = sorted((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("run-*.wandb"))
    row = read_offline_run(runs[0])
    assert row["status"] == "completed" and row["group"] == "g1"
    for key in ("strategy", "seed", "target_top1", "shared_acc", "reverse_acc", "synthetic"):
        assert same(row[key], metrics[key]), key
    assert row["config"]["target"] == {"name": "synth_wild"}

    # A job killed mid-run leaves a torn log without the final summary and exit record.
    log = next(runs[0].glob("run-*.wandb"))
    killed = tmp_path / "killed" / "offline-run-20260101_000000-killed"
    killed.mkdir(parents=True)
    data = log.read_bytes()
    (killed / log.name).write_bytes(data[: len(data) // 3])
    row = read_offline_run(killed)
    assert row["status"] == "failed" and "never finished" in row["failure_reason"]
    assert row["strategy"] == "deepfashion_imagenet"  # the run record (config) comes first


class FakeRun(SimpleNamespace):
    """What the analysis reads from a `wandb.apis.public.Run`."""


class FakeApi:
    """Stands in for `wandb.Api()`: records the query, returns canned runs, never networks."""

    def __init__(self, runs: list[FakeRun]) -> None:
        self._runs = runs
        self.calls: list[tuple[str, dict]] = []

    def runs(self, path: str, filters: dict | None = None) -> list[FakeRun]:
        self.calls.append((path, filters))
        return [r for r in self._runs if r.group == (filters or {}).get("group")]


HEADLINE = ("val_acc", "test_acc", "source_test_acc", "target_top1", "target_top3", "target_top5",
            "target_macro_acc", "shared_acc", "reverse_acc", "best_epoch", "status")  # fmt: skip


def _fake_run(
    kit: SimpleNamespace, strategy: str, seed: int, state: str = "finished", group: str = "sweep-a"
) -> FakeRun:
    """Like training's W&B runs: headline numbers + status in the summary, the rest in the config."""
    metrics = kit.make_metrics(strategy, seed)
    summary = {k: metrics[k] for k in HEADLINE} | {"_runtime": metrics["wall_time_s"], "_step": 9}
    if state != "finished":
        summary = {"_runtime": 3}
    return FakeRun(
        id=f"{strategy[:4]}{seed}",
        name=f"{strategy}-{seed}",
        url=f"https://wandb.ai/ent/proj/runs/{strategy[:4]}{seed}",
        group=group,
        state=state,
        summary_metrics=summary,
        config=kit.resolved_config(strategy, seed),
    )


def test_fake_wandb_api_reading(kit):
    runs = [_fake_run(kit, s, seed) for s in kit.strategies for seed in (0, 1)]
    runs += [_fake_run(kit, "adapter_scratch", 7, state="crashed")]
    runs += [_fake_run(kit, "adapter_scratch", 0, group="other")]
    api = FakeApi(runs)
    frame = collect_api("ent/proj", "sweep-a", api)
    assert api.calls == [("ent/proj", {"group": "sweep-a"})]
    assert len(frame) == 11
    crashed = frame[frame["seed"] == 7].iloc[0]
    assert crashed["status"] == "failed" and "crashed" in crashed["failure_reason"]
    assert crashed["strategy"] == "adapter_scratch"  # from the run's config
    done = frame[frame["status"] == "completed"].set_index(["strategy", "seed"])
    identity = ("source_dataset", "source_view", "target_dataset", "target_view", "synthetic",
                "train_fraction", "backbone", "pretrained", "wall_time_s")  # fmt: skip
    for strategy in kit.strategies:
        for seed in (0, 1):
            metrics = kit.make_metrics(strategy, seed)
            row = done.loc[(strategy, seed)]
            for key in ("shared_acc", "target_top1", "source_test_acc", "reverse_acc"):
                assert same(row[key], metrics[key]), key
            # From the resolved config and W&B's _runtime; the baseline's config does not say
            # which target it is scored on zero-shot, nor name a backbone.
            unknown = ("target_dataset", "target_view", "backbone", "pretrained")
            for key in identity:
                if strategy != "fmnist_baseline" or key not in unknown:
                    assert same(row[key], metrics[key]), (strategy, key)
    assert (frame["origin"] == "wandb-api").all()


def test_fake_wandb_api_through_the_entrypoint(tmp_path, kit):
    """--wandb with no run folders: W&B rows carry no history or samples; those figures are skipped."""
    from fashion_transfer.analyze import analyze

    api = FakeApi([_fake_run(kit, s, seed) for s in kit.strategies for seed in (0, 1)])
    report = analyze([], tmp_path / "out", "ent/proj", "sweep-a", api=api)
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert report.is_file() and (tmp_path / "out" / "transfer_gap.png").is_file()
    for title in (
        "2. Learning curves",
        "3. Shared-space confusion matrices",
        "4. Sample predictions",
    ):
        assert f"{title}: skipped" in summary
    csv = pd.read_csv(tmp_path / "out" / "results.csv")
    assert len(csv) == 10 and (csv["status"] == "completed").all()


def test_wandb_path_must_be_entity_project():
    with pytest.raises(UserError, match="ENTITY/PROJECT"):
        collect_api("just-a-project", "g", FakeApi([]))


def test_sweep_with_running_job_among_others(tmp_path, kit):
    sweep = kit.make_sweep(tmp_path / "s", seeds=(0,), broken=False, samples=False)
    kit.write_job(sweep.root / "99", "adapter_pretrained", 5, status="running")
    frame = collect_runs([sweep.root])
    assert list(frame["folder"])[-1] == str(sweep.root / "99")  # natural order: 0..4, then 99
    assert frame.set_index("folder").loc[str(sweep.root / "99"), "failure_reason"] == RUNNING


def test_a_run_repeated_under_another_folder_counts_once(kit, tmp_path, caplog):
    """A sweep re-run into its folder with the strategies in another order left each seed twice
    under job-number names (before folders were named by settings); a seed counts once."""
    root = tmp_path / "sweep"
    kit.write_job(root / "0_fmnist_baseline_s0", "fmnist_baseline", 0)
    kit.write_job(root / "1_deepfashion_scratch_s0", "deepfashion_scratch", 0)
    kit.write_job(root / "0_deepfashion_scratch_s0", "deepfashion_scratch", 0)
    kit.write_job(root / "1_fmnist_baseline_s0", "fmnist_baseline", 0, status="failed")
    kit.write_job(root / "2_fmnist_baseline_s1", "fmnist_baseline", 1)
    frame = collect_runs([root])
    assert sorted(zip(frame["strategy"], frame["seed"], strict=True)) == [
        ("deepfashion_scratch", 0),
        ("fmnist_baseline", 0),
        ("fmnist_baseline", 1),
    ]
    kept = frame[(frame["strategy"] == "fmnist_baseline") & (frame["seed"] == 0)]
    assert kept["status"].item() == "completed"  # the completed twin wins over the failed one
    assert kept["folder"].item().endswith("0_fmnist_baseline_s0")
    warned = [r.getMessage() for r in caplog.records if "counted once" in r.getMessage()]
    assert len(warned) == 2 and any("1_fmnist_baseline_s0" in w for w in warned)
