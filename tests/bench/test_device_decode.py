"""The bench's on-the-fly device decoding case, on the CPU (the GPU check runs it on CUDA)."""

from __future__ import annotations

import torch
from hydra.utils import instantiate

from fashion_transfer.bench.device_decode import _window, device_decode_case
from fashion_transfer.bench.setup import compose_config, make_state
from fashion_transfer.data.deepfashion_lists import validate_layout


def test_window_grows_the_box_and_stays_inside_the_image():
    assert _window([10, 20, 30, 60], 0.1, 100, 100) == (8, 16, 33, 65)
    assert _window([0, 0, 100, 50], 0.1, 50, 100) == (0, 0, 100, 50)


def test_device_decode_trains_on_batches_it_decodes(tiny_synth):
    cfg = compose_config(
        [
            "strategy=deepfashion_scratch",
            "dataset@target=synth_wild",
            f"paths.synth_dir={tiny_synth}",
            "model@backbone=resnet",
            "backbone.name=test_resnet",
            "backbone.resolution=32",
            "target.resolution=32",
            "target.cache=false",
            "budget.target.batch_size=8",
        ]
    )
    domain = instantiate(cfg.target)
    state = make_state(cfg, "target", domain, torch.device("cpu"))
    before = [p.detach().clone() for p in state.model.parameters()]
    lists = validate_layout(cfg.target.root, synthetic=True)
    case = device_decode_case("df32/device_decode/b8", state, lists, 32, 0.1, steps=2)
    assert case.run() == 16
    after = list(state.model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))
