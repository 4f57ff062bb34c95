"""FashionSynth's command: `python -m fashion_transfer.synth --out DIR` writes DIR/studio and DIR/wild.

python -m fashion_transfer.synth --out data/FashionSynth [--seed 0] [--wild 3000]
"""

from __future__ import annotations

import sys
import time

from fashion_transfer.cli import (
    ArgumentParser,
    check_output_folder,
    non_negative_int,
    path_arg,
    positive_int,
    why,
)
from fashion_transfer.errors import UserError
from fashion_transfer.synth.generate import generate_studio, generate_wild, is_complete


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(
        prog="python -m fashion_transfer.synth", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--out", type=path_arg, required=True, help="writes OUT/studio and OUT/wild"
    )
    parser.add_argument("--seed", type=non_negative_int, default=0)
    parser.add_argument("--studio-train", type=positive_int, default=12_000, metavar="N")
    parser.add_argument("--studio-test", type=positive_int, default=2_000, metavar="N")
    parser.add_argument(
        "--wild", type=positive_int, default=3_000, metavar="N", help="wild images (all splits)"
    )
    args = parser.parse_args(argv)
    studio = {"n_train": args.studio_train, "n_test": args.studio_test, "seed": args.seed}
    wild = {"n_images": args.wild, "seed": args.seed, "val_fraction": 0.15, "test_fraction": 0.15}
    jobs = (("studio", generate_studio, studio), ("wild", generate_wild, wild))
    try:
        check_output_folder(args.out)  # a file, or under one: say so before writing anything
        # Both folders are judged before either is written: a refusal costs no generating time.
        complete = {domain: is_complete(args.out / domain, domain, p) for domain, _, p in jobs}
        for domain, generate, params in jobs:
            root = args.out / domain
            if complete[domain]:
                print(
                    f"{root}: already holds FashionSynth {domain} with these parameters; "
                    "nothing to do"
                )
                continue
            start = time.perf_counter()
            generate(root, **params)
            print(
                f"{root}: wrote FashionSynth {domain} {params} "
                f"in {time.perf_counter() - start:.1f} s"
            )
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as exc:  # disk full, read-only, a file where a folder goes
        print(
            f"error: --out {args.out}: cannot write FashionSynth there ({why(exc)})",
            file=sys.stderr,
        )
        return 2
    return 0
