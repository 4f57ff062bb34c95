"""Strict parser for the list files of the DeepFashion Category and Attribute Prediction Benchmark.

Every list file is written the same way: a count line, a header line, then one entry per line
with the image name left-justified and padded with spaces. Names never contain spaces, so entries
are split on whitespace and the number of fields is checked. Any disagreement (count line, field
count, label range, an image named in one list and not another) is a DataError naming the file and
the line, because a silently shortened or shifted list would bias every number computed from it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fashion_transfer.errors import DataError

CATEGORY_FILE = "Anno/list_category_cloth.txt"
LABEL_FILE = "Anno/list_category_img.txt"
BBOX_FILE = "Anno/list_bbox.txt"
PARTITION_FILE = "Eval/list_eval_partition.txt"
IMAGE_DIR = "Img/img"
SPLITS = ("train", "val", "test")
SOURCE_URL = "http://mmlab.ie.cuhk.edu.hk/projects/DeepFashion/AttributePrediction.html"
LAYOUT = f"{CATEGORY_FILE}, {LABEL_FILE}, {BBOX_FILE}, {PARTITION_FILE}, {IMAGE_DIR}/<item>/img_XXXXXXXX.jpg"

_HEADERS = {
    CATEGORY_FILE: ["category_name", "category_type"],
    LABEL_FILE: ["image_name", "category_label"],
    BBOX_FILE: ["image_name", "x_1", "y_1", "x_2", "y_2"],
    PARTITION_FILE: ["image_name", "evaluation_status"],
}


@dataclass
class DeepFashionLists:
    """The parsed, cross-checked lists; entries follow list_category_img.txt's order."""

    root: Path
    categories: list[str]
    names: list[
        str
    ]  # image names relative to Img/, e.g. img/Sheer_Pleated-Front_Blouse/img_00000001.jpg
    labels: np.ndarray  # int64 (N,), 0-based index into categories
    boxes: np.ndarray  # int64 (N, 4): x_1, y_1, x_2, y_2 in pixels
    splits: dict[str, np.ndarray]  # split name -> int64 positions into names
    digest: str  # sha256 over the four list files' bytes: the cache key's view of the data

    def image_path(self, position: int) -> Path:
        return self.root / "Img" / self.names[position]

    def relpath(self, position: int) -> str:
        """The image's path relative to the root, as reported in bad_images."""
        return f"Img/{self.names[position]}"


def layout_error(root: Path, what: str, synthetic: bool = False) -> DataError:
    """One-line error for a missing root, list file or image folder, saying how to get the data."""
    if synthetic:
        hint = (
            "generate it with `python -m fashion_transfer.synth --out DIR` "
            "(writes DIR/wild) and set paths.synth_dir=DIR"
        )
    else:
        hint = (
            f"get the Category and Attribute Prediction Benchmark from {SOURCE_URL} "
            "and set paths.data_dir to the folder holding DeepFashion/"
        )
    return DataError(f"{what}; a DeepFashion root {root} must hold {LAYOUT}: {hint}")


def _read_entries(
    path: Path, rel: str, n_fields: int, hasher: hashlib._Hash
) -> list[tuple[int, list[str]]]:
    """(line number, fields) of every entry after checking the count line, header and field counts."""
    raw = path.read_bytes()
    hasher.update(rel.encode() + b"\0" + raw)
    try:
        lines = raw.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a text file ({exc}); re-download it") from exc
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) < 2:
        raise DataError(
            f"{path} line {len(lines) + 1}: missing count or header line; re-download it"
        )
    try:
        count = int(lines[0].strip())
    except ValueError:
        raise DataError(
            f"{path} line 1: expected the number of entries, found {lines[0].strip()!r}"
        ) from None
    header = lines[1].split()
    if header != _HEADERS[rel]:
        raise DataError(
            f"{path} line 2: expected header {' '.join(_HEADERS[rel])!r}, found {lines[1].strip()!r}"
        )
    entries = []
    for lineno, line in enumerate(lines[2:], start=3):
        fields = line.split()
        if len(fields) != n_fields:
            raise DataError(
                f"{path} line {lineno}: expected {n_fields} fields ({' '.join(_HEADERS[rel])}), "
                f"found {len(fields)}: {line.strip()!r}"
            )
        entries.append((lineno, fields))
    if count != len(entries):
        raise DataError(
            f"{path} line 1: the count line says {count} entries but {len(entries)} follow; "
            "the file is truncated or edited - re-download it"
        )
    return entries


def _int(path: Path, lineno: int, field: str, what: str) -> int:
    try:
        return int(field)
    except ValueError:
        raise DataError(f"{path} line {lineno}: {what} {field!r} is not an integer") from None


def _by_name(path: Path, entries: list[tuple[int, list[str]]]) -> dict[str, tuple[int, list[str]]]:
    """Index entries by image name; a name listed twice or escaping Img/ is an error at its line."""
    seen: dict[str, tuple[int, list[str]]] = {}
    for lineno, fields in entries:
        name = fields[0]
        if name.startswith("/") or ".." in name.split("/"):
            raise DataError(f"{path} line {lineno}: image name {name!r} must be relative to Img/")
        if name in seen:
            raise DataError(f"{path} line {lineno}: {name} already listed at line {seen[name][0]}")
        seen[name] = (lineno, fields)
    return seen


def _parse_categories(root: Path, hasher: hashlib._Hash) -> list[str]:
    path = root / CATEGORY_FILE
    entries = _read_entries(path, CATEGORY_FILE, 2, hasher)
    names = [fields[0] for _, fields in entries]
    for lineno, fields in entries:
        if _int(path, lineno, fields[1], "category_type") not in (1, 2, 3):
            raise DataError(f"{path} line {lineno}: category_type {fields[1]} outside 1..3")
        if names.count(fields[0]) > 1:
            raise DataError(f"{path} line {lineno}: category {fields[0]} listed twice")
    return names


def _cross_check(ref_path: Path, ref: dict, other_path: Path, other: dict) -> None:
    """Every image in both lists; an extra name in `other` is reported first (likely a typo there)."""
    for name, (lineno, _) in other.items():
        if name not in ref:
            raise DataError(f"{other_path} line {lineno}: {name} is missing from {ref_path}")
    for name, (lineno, _) in ref.items():
        if name not in other:
            raise DataError(f"{ref_path} line {lineno}: {name} is missing from {other_path}")


def check_paths(root: Path, synthetic: bool = False) -> None:
    """The root, the four list files and the image folder exist (no file is read)."""
    if not root.is_dir():
        raise layout_error(root, f"DeepFashion root {root} not found", synthetic)
    for rel in (CATEGORY_FILE, LABEL_FILE, BBOX_FILE, PARTITION_FILE):
        if not (root / rel).is_file():
            raise layout_error(root, f"missing list file {root / rel}", synthetic)
    if not (root / IMAGE_DIR).is_dir():
        raise layout_error(root, f"missing image folder {root / IMAGE_DIR}", synthetic)


def validate_layout(root: str | Path, synthetic: bool = False) -> DeepFashionLists:
    """Check the layout and parse all four lists without decoding images (cheap: run before training).

    Individual image files are not opened here; a missing or undecodable one is a bad image,
    found when the images are decoded (by the loader or by `fashion_transfer.data.check`).
    """
    root = Path(root)
    check_paths(root, synthetic)
    hasher = hashlib.sha256()
    categories = _parse_categories(root, hasher)
    paths = {rel: root / rel for rel in (LABEL_FILE, BBOX_FILE, PARTITION_FILE)}
    label_entries = _by_name(
        paths[LABEL_FILE], _read_entries(paths[LABEL_FILE], LABEL_FILE, 2, hasher)
    )
    bbox_entries = _by_name(paths[BBOX_FILE], _read_entries(paths[BBOX_FILE], BBOX_FILE, 5, hasher))
    part_entries = _by_name(
        paths[PARTITION_FILE], _read_entries(paths[PARTITION_FILE], PARTITION_FILE, 2, hasher)
    )
    _cross_check(paths[LABEL_FILE], label_entries, paths[BBOX_FILE], bbox_entries)
    _cross_check(paths[LABEL_FILE], label_entries, paths[PARTITION_FILE], part_entries)

    names = list(label_entries)
    labels = np.empty(len(names), dtype=np.int64)
    boxes = np.empty((len(names), 4), dtype=np.int64)
    split_of = []
    for i, name in enumerate(names):
        lineno, fields = label_entries[name]
        label = _int(paths[LABEL_FILE], lineno, fields[1], "category_label")
        if not 1 <= label <= len(categories):
            raise DataError(
                f"{paths[LABEL_FILE]} line {lineno}: category_label {label} outside 1..{len(categories)}"
            )
        labels[i] = label - 1
        lineno, fields = bbox_entries[name]
        boxes[i] = [_int(paths[BBOX_FILE], lineno, f, "coordinate") for f in fields[1:]]
        lineno, fields = part_entries[name]
        if fields[1] not in SPLITS:
            raise DataError(
                f"{paths[PARTITION_FILE]} line {lineno}: evaluation_status {fields[1]!r} "
                f"is not one of {', '.join(SPLITS)}"
            )
        split_of.append(fields[1])
    split_arr = np.array(split_of, dtype=object)
    splits = {s: np.flatnonzero(split_arr == s).astype(np.int64) for s in SPLITS}
    return DeepFashionLists(root, categories, names, labels, boxes, splits, hasher.hexdigest())
