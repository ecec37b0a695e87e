"""Measure the accuracies of the tiny_cnn plug-in space (writes accuracies.csv next to this file).

    python experiments/plugin_space/train_tiny_cnn.py [--epochs 15] [--seeds 2]

Each network trains on 40 images per class of the 500 CIFAR-10 test images shipped with the
benchmark data (SGD, momentum 0.9, cosine learning rate from 0.05, batch 50, random flips) and is
tested on the other 10 per class; the accuracy is the mean over the seeds. Runs on one CPU thread
in a few minutes.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from tiny_cnn import TinyCNN, network  # noqa: E402  (this folder's plug-in)

from greenmachine.datasets import dataset_info  # noqa: E402
from greenmachine.files import atomic_write_text  # noqa: E402
from greenmachine.paths import data_dir  # noqa: E402


def split(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return (train images, train labels, test images, test labels): 40 / 10 images per class, normalised."""
    data = np.load(data_dir() / "images" / "cifar10_test_500_jpeg.npz")
    info = dataset_info("cifar10")
    x = torch.from_numpy(data["x"]).permute(0, 3, 1, 2).float() / 255
    x = (x - torch.tensor(info.mean).view(1, 3, 1, 1)) / torch.tensor(info.std).view(1, 3, 1, 1)
    y = torch.from_numpy(data["y"].astype(np.int64))
    order = np.random.default_rng(seed).permutation(len(y))
    test = np.concatenate([order[y[order].numpy() == c][:10] for c in range(10)])
    train = np.setdiff1d(np.arange(len(y)), test)
    return x[train], y[train], x[test], y[test]


def train_and_test(arch: str, seed: int, epochs: int, data) -> float:
    """Return the test accuracy (percent) of `arch` trained from seed `seed`."""
    x_train, y_train, x_test, y_test = data
    torch.manual_seed(seed)
    net = network(arch)
    steps = epochs * (len(y_train) // 50)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    gen = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(y_train), generator=gen).split(50):
            images = x_train[batch]
            flip = torch.rand(len(batch), generator=gen) < 0.5
            images = torch.where(flip.view(-1, 1, 1, 1), images.flip(3), images)
            loss = F.cross_entropy(net(images), y_train[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
    net.eval()
    with torch.no_grad():
        return float((net(x_test).argmax(1) == y_test).float().mean() * 100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = split()
    rows = []
    for arch in TinyCNN.archs:
        start = time.perf_counter()
        accs = [train_and_test(arch, seed, args.epochs, data) for seed in range(args.seeds)]
        rows.append({"arch": arch, "dataset": "cifar10", "epochs": args.epochs, "test_acc": round(float(np.mean(accs)), 4)})
        print(f"{arch:14s} {rows[-1]['test_acc']:6.2f}  (seeds {', '.join(f'{a:.0f}' for a in accs)}; "
              f"{time.perf_counter() - start:.0f} s)", flush=True)
    path = HERE / "accuracies.csv"
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=["arch", "dataset", "epochs", "test_acc"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, text.getvalue())
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
