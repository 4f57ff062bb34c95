"""Faults inside a run: a diverging loss, and W&B online with no server or no key."""

from __future__ import annotations

import json
import logging
import socket
import time

import numpy as np
import pytest
import wandb

from fashion_transfer.analysis.wandb_source import replay_transaction_log
from fashion_transfer.errors import TrainingFailed
from fashion_transfer.tracking.wandb_run import WandbTracker
from fashion_transfer.train import train

NAN = ("experiment=smoke", "strategy=fmnist_baseline", "budget.source.lr=1e30")


@pytest.fixture
def fresh_wandb():
    """wandb keeps one settings singleton per process; tests that change its env start anew."""
    wandb.teardown()
    yield
    wandb.teardown()


def _offline_summary(run_dir) -> dict:
    wandb.teardown()  # the service may still be writing the log when finish() returns
    (log,) = (run_dir / "wandb").glob("offline-run-*/run-*.wandb")
    return replay_transaction_log(log)["summary"]


def test_nan_loss_fails_the_run_with_the_reason_in_metrics_and_wandb(
    make_cfg, tiny_synth, tmp_path, monkeypatch, fresh_wandb
):
    monkeypatch.setenv("WANDB_MODE", "offline")
    run = tmp_path / "run"
    cfg = make_cfg(*NAN, "logger=wandb", f"paths.synth_dir={tiny_synth}", run_dir=run)
    with pytest.raises(TrainingFailed) as err:
        train(cfg)
    assert err.value.exit_code == 3
    m = json.loads((run / "metrics.json").read_text())
    assert m["status"] == "failed"
    reason = m["failure_reason"]
    assert reason.startswith("non-finite loss (") and "stage source" in reason
    assert "\n" not in reason and "lower the learning rate" in reason
    summary = _offline_summary(run)
    assert summary["status"] == "failed" and summary["failure_reason"] == reason


def _no_netrc(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.netrc, no wandb settings file
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_MODE", "online")


def test_online_with_no_server_and_no_key_goes_offline_at_once(
    make_cfg, tiny_synth, tmp_path, monkeypatch, caplog, fresh_wandb
):
    _no_netrc(monkeypatch, tmp_path)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    caplog.set_level(logging.WARNING, logger="fashion_transfer.tracking.wandb_run")
    started = time.perf_counter()
    tracker = WandbTracker(
        run_dir=tmp_path / "t", name="n", group="g", job_type="j", run_config={}, init_timeout=5
    )
    took = time.perf_counter() - started
    assert tracker.run.settings.mode == "offline"
    tracker.finish()
    # A hang guard, not a speed claim: without the probe wandb retries for its own 90 s.
    assert took < 60, f"{took:.1f} s"

    caplog.clear()
    wandb.teardown()
    run = tmp_path / "run"
    cfg = make_cfg("experiment=smoke", "logger=wandb", f"paths.synth_dir={tiny_synth}", run_dir=run)
    train(cfg)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "not reachable" in warnings[0] and "logging offline instead" in warnings[0]
    assert f"wandb sync {run}/wandb/offline-run-*" in warnings[0]
    assert json.loads((run / "metrics.json").read_text())["status"] == "completed"
    assert _offline_summary(run)["status"] == "completed"


@pytest.mark.parametrize("key", ["a" * 40, None], ids=["with-key", "no-key"])
def test_online_with_a_silent_server_gives_up_after_init_timeout(
    key, tmp_path, monkeypatch, caplog, fresh_wandb
):
    """A server that accepts the connection and never answers (a proxy, a firewall). With an API
    key wandb really tries, for its init_timeout; without one it is not asked (on a terminal it
    would stop and prompt for a key). Then offline, with one warning."""
    _no_netrc(monkeypatch, tmp_path)
    monkeypatch.delenv("WANDB_SILENT")  # as a user runs it: a talkative wandb asks for more
    if key:
        monkeypatch.setenv("WANDB_API_KEY", key)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{server.getsockname()[1]}")
        caplog.set_level(logging.WARNING)
        started = time.perf_counter()
        tracker = WandbTracker(
            run_dir=tmp_path / "t", name="n", group="g", job_type="j", run_config={}, init_timeout=3
        )
        took = time.perf_counter() - started
    assert tracker.run.settings.mode == "offline"
    tracker.log({"x": 1.0}, 1)
    tracker.finish()
    # A hang guard, not a speed claim: without init_timeout wandb waits for its own 90 s.
    assert took < 60, f"{took:.1f} s"
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "wandb sync" in warnings[0], warnings
    assert ("CommError" if key else "no API key") in warnings[0]


def test_the_wandb_run_holds_tables_of_sample_predictions(
    make_cfg, tiny_synth, tmp_path, monkeypatch, fresh_wandb
):
    """The README promises a table of sample predictions per scored test set (offline files)."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    run = tmp_path / "run"
    cfg = make_cfg("experiment=smoke", "logger=wandb", f"paths.synth_dir={tiny_synth}", run_dir=run)
    train(cfg)
    wandb.teardown()
    record = json.loads((run / "metrics.json").read_text())
    found = {}
    for path in (run / "wandb").glob("offline-run-*/files/media/table/**/*.table.json"):
        found[path.parent.name] = json.loads(path.read_text())
    assert {"source", "fmnist_view"} <= set(found), found.keys()  # (+ shared: the confusion)
    view = found["fmnist_view"]
    assert view["columns"] == ["image", "true", "predicted", "correct"]
    assert len(view["data"]) == cfg.eval.samples
    assert {row[1] for row in view["data"]} <= set(record["shared_classes"])
    with np.load(run / "samples.npz") as samples:
        meta = json.loads(str(samples["samples_meta"]))
    assert meta["shared_classes"] == record["shared_classes"]  # the name the figure reads
    assert "fmnist_view_classes" not in meta
