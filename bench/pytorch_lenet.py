"""The same LeNet-5, batch and optimizer in PyTorch on the CPU: the baseline for
`lenet-gpu bench`, in one of the configurations a PyTorch user reaches with a line or two
(--mode): eager, channels_last memory format, torch.compile, or both. Prints one JSON
object with the same figures.

    python bench/pytorch_lenet.py [--mode eager|channels_last|compile|compile+channels_last]
                                  [--steps 200] [--threads N]
"""
import argparse
import json
import platform
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class LeNet5(nn.Module):
    """conv 6@5x5 relu, pool 2, conv 16@5x5 relu, pool 2, dense 120 relu, 84 relu, 10."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(256, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x.flatten(1))))))


MODES = ["eager", "channels_last", "compile", "compile+channels_last"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--threads", type=int, default=0, help="0 = PyTorch's default")
    ap.add_argument("--mode", default="eager", choices=MODES)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = LeNet5()
    channels_last = "channels_last" in args.mode
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    # torch.compile's first calls compile (seconds); the warm-up steps and calls absorb it.
    # Training and inference are compiled separately (grad mode differs).
    run = torch.compile(model) if args.mode.startswith("compile") else model
    # lenet-gpu's default recipe: Adam, batch 100 (synthetic MNIST-shaped data).
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    batch = 100
    data = torch.rand(60 * batch, 1, 28, 28)
    if channels_last:
        data = data.contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (60 * batch,))

    def step(i):
        j = (i % 60) * batch
        x, y = data[j : j + batch], labels[j : j + batch]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(run(x), y)
        loss.backward()
        opt.step()

    for i in range(args.warmup):
        step(i)
    t = time.perf_counter()
    for i in range(args.steps):
        step(i)
    train_s = time.perf_counter() - t

    inference = []
    model.eval()
    with torch.no_grad():
        for b in (100, 1000):
            x = torch.rand(b, 1, 28, 28)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            for _ in range(3):
                run(x)
            count = max(20_000 // b, 5)
            t = time.perf_counter()
            for _ in range(count):
                run(x)
            inference.append({"batch": b, "images_per_s": count * b / (time.perf_counter() - t)})

    print(json.dumps({
        "framework": f"PyTorch {torch.__version__} (CPU)",
        "mode": args.mode,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "train_batch": batch,
        "train_steps_timed": args.steps,
        "train_step_ms": train_s * 1e3 / args.steps,
        "train_images_per_s": args.steps * batch / train_s,
        "inference": inference,
    }))


if __name__ == "__main__":
    main()
