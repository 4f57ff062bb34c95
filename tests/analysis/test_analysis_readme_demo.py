"""The README's demo section is written from the analysis outputs, claims only resolved differences."""

from __future__ import annotations

import json

import pandas as pd

from fashion_transfer.analysis import readme_demo

README = "# t\n\nbefore\n\n<!-- demo:begin -->\nold text\n<!-- demo:end -->\n\nafter\n"


def test_demo_section_from_the_analysis(analysed, tmp_path):
    sweep, out = analysed
    (sweep.root / "demo_wall_s").write_text("754\n")
    readme = tmp_path / "README.md"
    readme.write_text(README)
    assert (
        readme_demo.main([str(sweep.root), "--readme", str(readme), "--img", str(tmp_path / "img")])
        == 0
    )
    text = readme.read_text()
    assert text.startswith("# t\n\nbefore\n\n<!-- demo:begin -->") and text.endswith(
        "<!-- demo:end -->\n\nafter\n"
    )
    assert "old text" not in text
    assert "12 min 34 s wall" in text and "SYNTHETIC" in text
    assert "| adapter_pretrained | 3 |" in text
    assert (tmp_path / "img" / "demo_paired_differences.png").is_file()
    assert "](img/demo_paired_differences.png)" in text
    comparisons = pd.read_csv(out / "comparisons.csv")
    resolved, unresolved = readme_demo.claims(comparisons)
    shown = comparisons[comparisons["n_pairs"] > 0]
    assert len(resolved) + len(unresolved) == len(shown)
    # The fixture's source-test difference baseline - adapter_scratch straddles zero: not claimed.
    assert any(
        u.startswith("fmnist_baseline vs adapter_scratch on source test") for u in unresolved
    )
    claimed = text.split("exclude zero")[1].split("Unresolved")[0]
    assert "fmnist_baseline** beats adapter_scratch on source test" not in claimed
    assert (
        "**deepfashion_imagenet** beats deepfashion_scratch on target top-1 by 19.2 pp" in claimed
    )


def test_readme_without_markers_is_refused_and_untouched(analysed, tmp_path, capsys):
    sweep, _ = analysed
    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n")
    img = tmp_path / "img"
    assert readme_demo.main([str(sweep.root), "--readme", str(readme), "--img", str(img)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "<!-- demo:begin -->" in err and err.count("\n") == 1
    assert readme.read_text() == "# no markers\n" and not img.exists()


def test_sweep_without_analysis_is_an_error(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(README)
    assert readme_demo.main([str(tmp_path / "nothing"), "--readme", str(readme)]) == 2
    assert "run python -m fashion_transfer.analyze" in capsys.readouterr().err
    assert readme.read_text() == README


TUNE_README = "# t\n\n<!-- demo:begin -->\nkept\n<!-- demo:end -->\n\n<!-- tune:begin -->\nold\n<!-- tune:end -->\n"


def _tuning_row(unit: str, trial: int, lr: float, val: float, test: float) -> dict:
    hparams = {"lr": lr, "weight_decay": 0.01}
    return {
        "strategy": unit.split(" ")[0],
        "unit": unit,
        "trial": trial,
        "trials": 4,
        "seeds": 1,
        "val_mean": val,
        "test_acc_mean": test,
        "test_acc_ci_low": None,
        "test_acc_ci_high": None,
        "test_acc_n": 1,
        "shared_acc_mean": test + 0.1,
        "shared_acc_ci_low": None,
        "shared_acc_ci_high": None,
        "shared_acc_n": 1,
        "hparams": json.dumps(hparams, sort_keys=True),
        "edge": "lr" if lr < 2e-4 else "",
    }


def _tune_sweep(tmp_path, lrs: dict[str, float]):
    sweep = tmp_path / "tune_demo"
    analysis = sweep / "analysis"
    analysis.mkdir(parents=True)
    rows = [_tuning_row(u, i, lr, 0.5 + i / 10, 0.4) for i, (u, lr) in enumerate(lrs.items())]
    pd.DataFrame(rows).to_csv(analysis / "tuning.csv", index=False)
    comparisons = pd.DataFrame(
        [
            {
                "metric": "target_top1",
                "strategy_a": "adapter_scratch (input_adapter=learned)",
                "strategy_b": "adapter_scratch (input_adapter=timm_stem)",
                "n_pairs": 1,
                "mean_diff": 0.02,
            },
            {
                "metric": "target_top1",
                "strategy_a": "adapter_scratch (input_adapter=learned)",
                "strategy_b": "deepfashion_scratch",
                "n_pairs": 1,
                "mean_diff": 0.05,
            },
        ],
        columns=[
            "metric",
            "strategy_a",
            "strategy_b",
            "n_pairs",
            "mean_diff",
            "ci_low",
            "ci_high",
            "bootstrap_low",
            "bootstrap_high",
            "p_improvement",
        ],
    )
    comparisons.to_csv(analysis / "comparisons.csv", index=False)
    (analysis / "tuning_trials.png").write_bytes(b"png")
    (sweep / "demo_wall_s").write_text("1500\n")
    return sweep


def test_tune_section_from_tuning_csv(tmp_path):
    lrs = {
        "deepfashion_scratch": 3.3e-3,
        "adapter_scratch (input_adapter=learned)": 2.4e-4,
        "adapter_scratch (input_adapter=timm_stem)": 1.5e-4,
    }
    sweep = _tune_sweep(tmp_path, lrs)
    readme = tmp_path / "README.md"
    readme.write_text(TUNE_README)
    args = [str(sweep), "--section", "tune", "--readme", str(readme), "--img", str(tmp_path)]
    assert readme_demo.main(args) == 0
    text = readme.read_text()
    assert "<!-- demo:begin -->\nkept\n<!-- demo:end -->" in text and "\nold\n" not in text
    assert "25 min 0 s wall" in text and "SYNTHETIC" in text
    assert "| deepfashion_scratch | 0 | 4 | 50.0% |" in text
    assert "lr=0.00015, weight_decay=0.01 | lr |" in text  # the edge flag is shown
    assert "learning rates **differ** by strategy" in text
    assert "lr=0.0033: deepfashion_scratch" in text
    stem = text.split("gray stem at the selected trials")[1]
    assert "no difference is resolved" in stem and "deepfashion_scratch" not in stem
    assert (
        "adapter_scratch (input_adapter=learned) vs adapter_scratch (input_adapter=timm_stem)"
        in stem
    )
    assert (tmp_path / "tune_demo_trials.png").is_file()


def test_tune_section_says_when_learning_rates_agree(tmp_path):
    tuned = pd.DataFrame(
        [_tuning_row(u, 0, 1e-3, 0.5, 0.4) for u in ("deepfashion_scratch", "adapter_scratch")]
    )
    assert readme_demo.lr_sentence(tuned) == (
        "The selected learning rates do **not** differ by strategy: every strategy selected "
        "lr=0.001."
    )


def test_tune_section_needs_tuning_trials(analysed, tmp_path, capsys):
    sweep, _ = analysed  # an ordinary sweep: its tuning.csv is absent
    readme = tmp_path / "README.md"
    readme.write_text(TUNE_README)
    args = [str(sweep.root), "--section", "tune", "--readme", str(readme), "--img", str(tmp_path)]
    assert readme_demo.main(args) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert readme.read_text() == TUNE_README
