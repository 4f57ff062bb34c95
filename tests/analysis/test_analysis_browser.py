"""report.html in a real browser (headless Chromium): every image decodes, the summary table is there.

A copy of the report gets a tiny script that, on `load`, writes what it finds into the DOM;
`--dump-dom` hands that back. The copy also holds one deliberately broken image, so a check
that silently passed everything would fail here. A screenshot of the untouched report is kept
as a test artifact (copied to $FT_TEST_ARTIFACTS when set).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("FT_CHROMIUM", "/usr/bin/chromium"))
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHECK = """<img alt="__broken_control__" src="data:image/png;base64,AAAA">
<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const table = document.getElementById("summary-table");
  const result = {
    images: images.length,
    broken: images.filter((i) => !(i.complete && i.naturalWidth > 0)).map((i) => i.alt),
    summaryRows: table ? table.tBodies[0].rows.length : -1,
    summaryHeaders: table ? Array.from(table.tHead.rows[0].cells).map((c) => c.textContent) : [],
    tables: Object.fromEntries(["comparisons-table", "selection-table"].map((id) => {
      const t = document.getElementById(id);
      return [id, t ? t.tBodies[0].rows.length : -1];
    })),
    forest: (() => {
      const img = document.querySelector("#fig-paired_differences img");
      return img ? img.complete && img.naturalWidth > 0 : false;
    })(),
  };
  const out = document.createElement("pre");
  out.id = "ft-check";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>
"""


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium absent (apt-get install -y chromium)"
)
def test_report_in_headless_chromium(analysed, tmp_path):
    _, out = analysed
    report = out / "report.html"
    page = tmp_path / "check.html"
    page.write_text(report.read_text().replace("</body>", CHECK + "</body>"))

    dom = chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", page.as_uri())
    found = re.search(r'<pre id="ft-check">(.*?)</pre>', dom.stdout)
    assert found, f"no result in the DOM; chromium rc={dom.returncode}: {dom.stderr[-2000:]}"
    result = json.loads(found.group(1))
    assert result["broken"] == [
        "__broken_control__"
    ]  # every report image loaded, the control did not
    assert result["images"] == 8  # 7 figures drawn for this sweep + the control
    assert result["summaryRows"] == 5  # one row per strategy
    assert result["summaryHeaders"][:3] == ["strategy", "runs", "failed"]
    # 10 strategy pairs on the shared space, 6 on target top-1 (the baseline has none),
    # 3 on the source test set; 3 protocols per strategy.
    assert result["tables"] == {"comparisons-table": 19, "selection-table": 15}
    assert result["forest"] is True  # the forest plot is drawn and decodes

    shot = tmp_path / "report.png"
    run = chromium(
        tmp_path,
        "--window-size=1280,2400",
        "--hide-scrollbars",
        f"--screenshot={shot}",
        report.as_uri(),
    )
    assert shot.is_file() and shot.stat().st_size > 10_000, run.stderr[-2000:]
    if os.environ.get("FT_TEST_ARTIFACTS"):
        dest = Path(os.environ["FT_TEST_ARTIFACTS"])
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, dest / "analysis_report.png")


WIDTH_CHECK = """<script>
window.addEventListener("load", () => {
  const page = document.documentElement.clientWidth;
  const tables = Array.from(document.querySelectorAll("table")).filter((t) => !t.closest("details"));
  const cut = tables.filter((t) => {
    if (t.getBoundingClientRect().right <= page + 1) return false;  // fits the page
    const box = t.parentElement;  // else it must sit in a sideways-scrolling box on the page
    const scrolls = ["auto", "scroll"].includes(getComputedStyle(box).overflowX);
    return !(scrolls && box.getBoundingClientRect().right <= page + 1 && box.scrollWidth > box.clientWidth);
  }).map((t) => t.id);
  const out = document.createElement("pre");
  out.id = "ft-check";
  out.textContent = JSON.stringify({page, tables: tables.map((t) => t.id), cut});
  document.body.appendChild(out);
});
</script>
"""


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium absent (apt-get install -y chromium)"
)
def test_tables_wider_than_the_window_scroll_instead_of_being_cut(analysed_full, tmp_path):
    """The summary of a sweep with long row labels, in a narrow window: no column out of reach."""
    _, out = analysed_full
    page = tmp_path / "check.html"
    page.write_text((out / "report.html").read_text().replace("</body>", WIDTH_CHECK + "</body>"))
    dom = chromium(
        tmp_path,
        "--window-size=800,900",
        "--virtual-time-budget=10000",
        "--dump-dom",
        page.as_uri(),
    )
    found = re.search(r'<pre id="ft-check">(.*?)</pre>', dom.stdout)
    assert found, f"no result in the DOM; chromium rc={dom.returncode}: {dom.stderr[-2000:]}"
    result = json.loads(found.group(1))
    assert "summary-table" in result["tables"] and result["page"] <= 800
    assert result["cut"] == []
