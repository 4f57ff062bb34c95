"""Check a DeepFashion download before a long sweep: `python -m fashion_transfer.data.check PATH [--json]`.

`--view-stats` instead prints how faithful the Fashion-MNIST view of PATH is: its statistics for
each `fmnist_background` choice next to Fashion-MNIST's (`data.check_view`).

Parses the four list files with the loader's parser, decodes every image with the loader's
decoder, and prints images per split and per category, empty categories, clipped and ignored boxes
and every undecodable image with its path (relative to PATH). `--json` prints the same as one JSON
object with the keys `splits` (usable images per split), `listed` (images per split in the lists),
`categories` (usable images per category, all splits), `empty_categories`, `bad_images` (each
`{"path", "reason"}`: missing or unreadable file, or the decoder's message),
`clipped_boxes`, `ignored_boxes`, `pillow_fallback`, `max_bad_fraction` and `usable`.

Exit status:
  0  the data is usable: every split has at most --max-bad-fraction undecodable images (any bad
     ones are listed as warnings; training skips them and records them in metrics.json);
  1  some split has more bad images than that, so a training run would refuse it;
  2  a layout error (missing root, list file or image folder, malformed list) or a bad option:
     one `error:` line on stderr (with --json also `{"error": ..., "exit_code": 2}` on stdout).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fashion_transfer.cli import (
    ArgumentParser,
    fraction,
    positive_int,
    print_error,
)
from fashion_transfer.data.deepfashion_lists import SPLITS, DeepFashionLists, validate_layout
from fashion_transfer.errors import UserError

if TYPE_CHECKING:
    from fashion_transfer.data.transforms import ImageFacts


def summarize(
    lists: DeepFashionLists, facts: dict[str, ImageFacts], max_bad_fraction: float
) -> dict:
    """The JSON-able summary of one decoding pass over every split."""
    from fashion_transfer.data.transforms import count_facts  # see `check`

    per_category = np.zeros(len(lists.categories), dtype=np.int64)
    bad, usable = [], True
    for s in SPLITS:
        positions = lists.splits[s]
        np.add.at(per_category, lists.labels[positions[facts[s].good]], 1)
        bad += [
            {"path": lists.relpath(positions[row]), "reason": facts[s].errors[row]}
            for row in sorted(facts[s].errors)
        ]
        if len(positions) and len(facts[s].errors) / len(positions) > max_bad_fraction:
            usable = False
    categories = dict(zip(lists.categories, per_category.tolist(), strict=True))
    return {
        "root": str(lists.root),
        "splits": {s: int(facts[s].good.sum()) for s in SPLITS},
        "listed": {s: len(lists.splits[s]) for s in SPLITS},
        "categories": categories,
        "empty_categories": [c for c, n in categories.items() if n == 0],
        "bad_images": bad,
        **count_facts(facts.values()),
        "max_bad_fraction": max_bad_fraction,
        "usable": usable,
    }


def check(root: str | Path, workers: int = 2, max_bad_fraction: float = 0.01) -> dict:
    """Validate the layout (DataError on a problem), decode every image, return the summary."""
    lists = validate_layout(root)
    # The decoders (torch, torchvision) load only for a pass that decodes, so a bad option or
    # layout is answered in a fraction of a second rather than after seconds of imports.
    from fashion_transfer.data.transforms import preprocess_many

    facts = {}
    for s in SPLITS:
        positions = lists.splits[s]
        paths = [lists.image_path(p) for p in positions]
        facts[s] = preprocess_many(paths, lists.boxes[positions], None, None, workers)
    return summarize(lists, facts, max_bad_fraction)


def format_text(summary: dict) -> str:
    """The human-readable report."""
    lines = [f"DeepFashion root {summary['root']}", "images per split (usable / listed):"]
    lines += [f"  {s:<5} {summary['splits'][s]} / {summary['listed'][s]}" for s in SPLITS]
    lines.append("images per category (usable, all splits):")
    lines += [f"  {name:<12} {n}" for name, n in summary["categories"].items()]
    empty = summary["empty_categories"]
    lines.append(f"empty categories ({len(empty)}): {', '.join(empty) or '-'}")
    lines.append(f"boxes clipped to their image: {summary['clipped_boxes']}")
    lines.append(f"boxes ignored (empty or inverted; whole image used): {summary['ignored_boxes']}")
    lines.append(f"decoded by the Pillow fallback: {summary['pillow_fallback']}")
    lines.append(f"undecodable images ({len(summary['bad_images'])}):")
    lines += [f"  WARNING {bad['path']}: {bad['reason']}" for bad in summary["bad_images"]]
    verdict = "usable" if summary["usable"] else "NOT usable: a split exceeds max_bad_fraction"
    lines.append(f"result: {verdict} (max_bad_fraction={summary['max_bad_fraction']})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    want_json = "--json" in argv  # errors, argparse's included, are then JSON on stdout too
    parser = ArgumentParser(
        prog="python -m fashion_transfer.data.check",
        description=__doc__.split("\n")[0],
        json_errors=want_json,
    )
    parser.add_argument("path", help="DeepFashion root (holds Anno/, Eval/, Img/)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument(
        "--workers", type=positive_int, default=2, help="decoding threads (default 2)"
    )
    parser.add_argument(
        "--view-stats",
        action="store_true",
        help="print the Fashion-MNIST view's statistics per background choice instead",
    )
    parser.add_argument("--split", default="test", help="--view-stats: the split (default test)")
    parser.add_argument(
        "--limit", type=int, default=1000, help="--view-stats: images (default 1000; 0: all)"
    )
    parser.add_argument(
        "--max-bad-fraction",
        type=fraction,
        default=0.01,
        help="share of undecodable images a split may hold, as target.max_bad_fraction of a "
        "training run (default 0.01, i.e. 1%%)",
    )
    args = parser.parse_args(argv)
    if args.view_stats:
        return _view_stats(args)
    try:
        summary = check(args.path, args.workers, args.max_bad_fraction)
    except UserError as exc:
        return print_error(str(exc), exc.exit_code, json_errors=args.json)
    print(json.dumps(summary, indent=2) if args.json else format_text(summary))
    return 0 if summary["usable"] else 1


def _view_stats(args: argparse.Namespace) -> int:
    from fashion_transfer.data.check_view import format_view_table, view_report

    try:
        report = view_report(args.path, args.split, args.limit, workers=args.workers)
    except UserError as exc:
        return print_error(str(exc), exc.exit_code, json_errors=args.json)
    print(json.dumps(report, indent=2) if args.json else format_view_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
