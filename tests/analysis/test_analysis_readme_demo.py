"""The README's demo section is written from the analysis outputs, claims only resolved differences."""

from __future__ import annotations

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
