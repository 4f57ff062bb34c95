"""The DeepFashion -> Fashion-MNIST label map: complete, strict, and applied to labels and logits."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from fashion_transfer.conf import CONF_DIR
from fashion_transfer.data.fashion_mnist import FMNIST_CLASSES
from fashion_transfer.data.label_map import LabelMap
from fashion_transfer.errors import ConfigError
from fashion_transfer.synth.generate import WILD_TO_FMNIST

MAP_FILE = CONF_DIR / "label_map" / "deepfashion_to_fmnist.yaml"
REAL_CLOTH = Path("/work/shared/data/DeepFashion/Anno/list_category_cloth.txt")
SHARED = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Shirt"]


@pytest.fixture
def categories(fixture_categories: list[str]) -> list[str]:
    """The 50 names: from the real list file where the shared data exists, else the test's copy."""
    if REAL_CLOTH.is_file():
        return [line.split()[0] for line in REAL_CLOTH.read_text().splitlines()[2:]]
    return fixture_categories


@pytest.fixture
def cfg() -> dict:
    return OmegaConf.to_container(OmegaConf.load(MAP_FILE))


def test_agrees_with_the_synth_generator(cfg: dict) -> None:
    """FashionSynth's wild categories carry the same Fashion-MNIST class as the map gives them."""
    owner = {name: shared for shared, names in cfg["classes"].items() for name in names}
    assert {c: owner.get(c) for c in WILD_TO_FMNIST} == WILD_TO_FMNIST


def test_every_category_appears_exactly_once(cfg: dict, categories: list[str]) -> None:
    names = [n for group in cfg["classes"].values() for n in group] + cfg["unmapped"]
    assert len(categories) == 50
    assert sorted(names) == sorted(categories)
    assert cfg["fmnist_classes"] == FMNIST_CLASSES


def test_index_tensors(cfg: dict, categories: list[str]) -> None:
    m = LabelMap.from_config(OmegaConf.create(cfg), categories, FMNIST_CLASSES)
    assert m.shared_classes == SHARED
    at = categories.index
    assert m.target_to_shared[at("Tee")] == 0 and m.target_to_shared[at("Jeans")] == 1
    assert m.target_to_shared[at("Blouse")] == SHARED.index("Shirt")
    assert m.target_to_shared[at("Skirt")] == -1 and m.target_to_source[at("Skirt")] == -1
    assert m.target_to_source[at("Blouse")] == FMNIST_CLASSES.index("Shirt")
    assert m.source_to_shared.tolist() == [0, 1, 2, 3, 4, -1, 5, -1, -1, -1]
    assert int((m.target_to_shared >= 0).sum()) == 34


def test_labels_predictions_and_logits(cfg: dict, categories: list[str]) -> None:
    m = LabelMap.from_config(cfg, categories, FMNIST_CLASSES)
    at = categories.index
    labels = torch.tensor([at("Tee"), at("Skirt"), at("Parka")])
    assert m.labels_from_target(labels).tolist() == [0, -1, 4]
    logits = torch.full((2, 50), -5.0)
    logits[0, at("Skirt")], logits[0, at("Dress")] = 9.0, 3.0  # best is unmapped
    logits[1, at("Jeans")] = 2.0
    assert m.predictions_from_target(logits).tolist() == [-1, 1]  # unrestricted: Skirt is wrong
    assert m.logits_from_target(logits).argmax(1).tolist() == [3, 1]  # restricted to the six
    source = torch.zeros(1, 10)
    source[0, FMNIST_CLASSES.index("Sneaker")], source[0, FMNIST_CLASSES.index("Coat")] = 5.0, 1.0
    assert m.predictions_from_source(source).tolist() == [-1]
    assert m.logits_from_source(source).shape == (1, 6)
    assert m.logits_from_source(source).argmax(1).tolist() == [4]
    assert m.labels_from_source(torch.tensor([6, 9])).tolist() == [5, -1]


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (
            lambda c: c["classes"]["Coat"].append("Trenchcoat"),
            "unknown DeepFashion category 'Trenchcoat'",
        ),
        (lambda c: c["unmapped"].remove("Robe"), "Robe are neither mapped nor listed"),
        (lambda c: c["unmapped"].append("Tee"), "'Tee' appears twice"),
        (lambda c: c["classes"].update({"Jumper": c["classes"].pop("Pullover")}), "classes.Jumper"),
        (lambda c: c["fmnist_classes"].reverse(), "fmnist_classes"),
        (lambda c: c.pop("unmapped"), "unmapped"),
    ],
)
def test_bad_maps_name_the_problem_and_the_file(
    cfg: dict, categories: list[str], edit, words
) -> None:
    edit(cfg)
    with pytest.raises(ConfigError) as err:
        LabelMap.from_config(cfg, categories, FMNIST_CLASSES)
    assert words in str(err.value) and "conf/label_map/deepfashion_to_fmnist.yaml" in str(err.value)
