"""The batch path: capped epochs, the prefetch thread's lifetime, and the same batches either way."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from fashion_transfer.data.base import ArrayImages, Split
from fashion_transfer.training.batches import augment, iterate_batches

CPU = torch.device("cpu")


def _splits(n: int = 50) -> tuple[Split, Split]:
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 1, 4, 4), dtype=torch.uint8, generator=gen)
    labels = torch.arange(n)
    return Split(images, labels), Split(ArrayImages(images.numpy()), labels)


def _prefetch_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.daemon and t.is_alive())


def test_in_memory_and_memmap_batches_are_identical():
    in_memory, mapped = _splits()
    a = list(iterate_batches(in_memory, 8, CPU, shuffle=True, seed=3))
    b = list(iterate_batches(mapped, 8, CPU, shuffle=True, seed=3))
    assert len(a) == len(b) == 7
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
        assert xa.dtype == torch.float32 and xa.min() >= 0.0 and xa.max() <= 1.0


def test_max_batches_caps_the_epoch_with_the_same_first_batches():
    in_memory, _ = _splits()
    full = list(iterate_batches(in_memory, 8, CPU, shuffle=True, seed=1, drop_last=True))
    capped = list(iterate_batches(in_memory, 8, CPU, shuffle=True, seed=1, max_batches=2))
    assert len(full) == 6 and len(capped) == 2
    assert all(torch.equal(c[1], f[1]) for c, f in zip(capped, full, strict=False))


def test_closing_a_prefetched_epoch_early_stops_its_thread():
    _, mapped = _splits(400)
    before = _prefetch_threads()
    batches = iterate_batches(mapped, 4, CPU)
    next(batches)
    batches.close()  # what a `break` out of the loop does once the generator is dropped
    deadline = time.monotonic() + 5
    while _prefetch_threads() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _prefetch_threads() == before


def test_errors_in_the_prefetch_thread_reach_the_consumer():
    class Broken(ArrayImages):
        def __getitem__(self, index):
            raise OSError("disk gone")

    split = Split(Broken(np.zeros((10, 1, 2, 2), np.uint8)), torch.arange(10))
    with pytest.raises(OSError, match="disk gone"):
        list(iterate_batches(split, 4, CPU))


def _augmented(device: str) -> torch.Tensor:
    x = torch.rand(16, 3, 12, 12, generator=torch.Generator().manual_seed(0)).to(device)
    gen = torch.Generator().manual_seed(1)
    return augment(x, gen, hflip=True, translate=2, erase_p=0.5, erase_size=0.25).cpu()


def test_augment_is_a_function_of_the_generator_and_keeps_pixels():
    x = torch.rand(16, 3, 12, 12, generator=torch.Generator().manual_seed(0))
    a, b = _augmented("cpu"), _augmented("cpu")
    assert torch.equal(a, b) and a.shape == x.shape
    assert set(a.unique().tolist()) <= set(x.unique().tolist()) | {0.0}  # moved, not blended


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_augment_draws_the_same_numbers_on_cuda_as_on_the_cpu():
    assert torch.equal(_augmented("cuda"), _augmented("cpu"))
