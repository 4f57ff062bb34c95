"""Batches by indexing uint8 tensors, and augmentation applied to whole batches on the device.

Per-sample PIL transforms cost more than a small CNN's forward pass on 28x28 images; indexing one
uint8 tensor and augmenting the batch with tensor ops keeps the model, not the data path, the limit.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from fashion_transfer.data.base import Split
from fashion_transfer.models.adapter import to_gray


def batch_order(
    n: int, batch_size: int, shuffle: bool, seed: int, drop_last: bool
) -> list[torch.Tensor]:
    """Index batches for one epoch; a pure function of the seed, so a resumed epoch repeats exactly."""
    order = (
        torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        if shuffle
        else torch.arange(n)
    )
    batches = list(order.split(batch_size))
    if drop_last and len(batches) > 1 and len(batches[-1]) < batch_size:
        batches.pop()
    return batches


def _prefetched(items: Iterator, depth: int = 2) -> Iterator:
    """Run a generator one thread ahead, so memory-map reads (and pinning) overlap the model.

    Closing the consumer early (a capped epoch) stops the worker instead of leaving it blocked.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    done, stop = object(), threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    def worker() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:  # re-raised in the consumer
            put(exc)
            return
        put(done)

    threading.Thread(target=worker, daemon=True).start()
    try:
        while (item := q.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def iterate_batches(
    split: Split,
    batch_size: int,
    device: torch.device,
    shuffle: bool = False,
    seed: int = 0,
    drop_last: bool = False,
    max_batches: int | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (float images in [0, 1] on device, labels on device), at most `max_batches` of them.

    Memory-mapped images are read one batch ahead in a thread; on CUDA every batch is also
    indexed and pinned there, so the copy to the device is the only data work left on the
    training thread. Images cross to the device as uint8 (a quarter of float's bytes).
    """
    order = batch_order(len(split), batch_size, shuffle, seed, drop_last)[:max_batches]
    pin = device.type == "cuda"

    def raw() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for idx in order:
            images, labels = split.batch(idx)
            yield (images.pin_memory(), labels.pin_memory()) if pin else (images, labels)

    in_memory = isinstance(split.images, torch.Tensor)
    source = raw() if in_memory and not pin else _prefetched(raw())
    for images, labels in source:
        images = images.to(device, non_blocking=pin).float().div_(255.0)
        yield images, labels.to(device, non_blocking=pin)


def _draws(
    b: int,
    h: int,
    w: int,
    gen: torch.Generator,
    hflip: bool,
    translate: int,
    erase_p: float,
    s: int,
) -> dict[str, torch.Tensor]:
    """Every random number a batch's augmentation needs, on the CPU, in one fixed order."""
    d = {}
    if hflip:
        d["flip"] = torch.rand(b, generator=gen) < 0.5
    if translate > 0:
        d["oy"] = torch.randint(0, 2 * translate + 1, (b,), generator=gen)
        d["ox"] = torch.randint(0, 2 * translate + 1, (b,), generator=gen)
    if erase_p > 0:
        d["erase"] = torch.rand(b, generator=gen) < erase_p
        d["y0"] = torch.randint(0, h - s + 1, (b,), generator=gen)
        d["x0"] = torch.randint(0, w - s + 1, (b,), generator=gen)
    return d


def _to_device(draws: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """One pinned, asynchronous copy per batch: a copy from pageable memory can wait for the GPU."""
    if device.type == "cpu" or not draws:
        return draws
    rows = torch.stack([v.long() for v in draws.values()]).pin_memory()
    rows = rows.to(device, non_blocking=True)
    pairs = zip(draws.items(), rows, strict=True)
    return {k: r.bool() if v.dtype == torch.bool else r for (k, v), r in pairs}


def augment(
    x: torch.Tensor,
    generator: torch.Generator,
    hflip: bool = False,
    translate: int = 0,
    erase_p: float = 0.0,
    erase_size: float = 0.25,
) -> torch.Tensor:
    """Random horizontal flip, translation (pad + random crop) and cutout for a float batch.

    Random numbers come from `generator` (on the CPU) so results are the same on every device.
    """
    b, c, h, w = x.shape
    dev = x.device
    s = max(1, round(erase_size * min(h, w)))
    d = _to_device(_draws(b, h, w, generator, hflip, translate, erase_p, s), dev)
    if hflip:
        x = torch.where(d["flip"].view(b, 1, 1, 1), x.flip(-1), x)
    if translate > 0:
        t = translate
        padded = F.pad(x, (t, t, t, t), mode="replicate")
        # Two gathers (rows, then columns) instead of one 4-index lookup: 4x less index work.
        rows = (d["oy"][:, None] + torch.arange(h, device=dev))[:, None, :, None]
        cols = (d["ox"][:, None] + torch.arange(w, device=dev))[:, None, None, :]
        x = padded.gather(2, rows.expand(b, c, h, w + 2 * t))
        x = x.gather(3, cols.expand(b, c, h, w))
    if erase_p > 0:
        y0, x0 = d["y0"][:, None], d["x0"][:, None]
        ys = torch.arange(h, device=dev)[None, :]
        xs = torch.arange(w, device=dev)[None, :]
        in_y = (ys >= y0) & (ys < y0 + s)
        in_x = (xs >= x0) & (xs < x0 + s)
        mask = (in_y[:, :, None] & in_x[:, None, :] & d["erase"][:, None, None])[:, None]
        x = x.masked_fill(mask, 0.0)
    return x


def fit_input(x: torch.Tensor, channels: int, size: int) -> torch.Tensor:
    """Adapt a batch to a model's expected input: gray <-> RGB and resolution."""
    if x.shape[1] == 1 and channels == 3:
        x = x.expand(-1, 3, -1, -1)
    elif x.shape[1] == 3 and channels == 1:
        x = to_gray(x)
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(
            x, size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
    return x
