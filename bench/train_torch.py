"""PyTorch side of bench/train.mjs: the same reference models, trained on random data, 1 thread.

Prints one JSON object: {"torch": version, "models": {name: {"samples_per_s", "ms_per_step", "params"}}}.
Usage: python3 bench/train_torch.py --models cnn-bn,cnn,tc-resnet8 --batch 32 --warmup 3 --steps 10
       python3 bench/train_torch.py --serve --batch 32   (then `<model> <warmup> <steps>` lines on stdin,
       one JSON line {"samples_per_s", "ms_per_step"} back for each: bench/train.mjs's timings in turns)
"""
import argparse
import json
import time

import torch
import torch.nn as nn


def cnn(bn: bool, classes: int = 10) -> nn.Module:
    layers, cin = [], 1
    for cout in (16, 32, 64, 64):
        layers.append(nn.Conv2d(cin, cout, 3, padding=1, bias=not bn))
        if bn:
            layers.append(nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01))  # Keras defaults
        layers += [nn.ReLU(), nn.MaxPool2d(2)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes)]
    return nn.Sequential(*layers)


class TCBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv1d(cin, cout, 9, stride=2, padding=4, bias=False), nn.BatchNorm1d(cout, eps=1e-3), nn.ReLU(),
            nn.Conv1d(cout, cout, 9, padding=4, bias=False), nn.BatchNorm1d(cout, eps=1e-3))
        self.shortcut = nn.Sequential(
            nn.Conv1d(cin, cout, 1, stride=2, bias=False), nn.BatchNorm1d(cout, eps=1e-3), nn.ReLU())

    def forward(self, x):
        return torch.relu(self.main(x) + self.shortcut(x))


def tc_resnet8(mels: int = 64, classes: int = 10) -> nn.Module:
    # Choi et al. 2019: mel bins are the channels of 1-D convolutions over time.
    return nn.Sequential(
        nn.Conv1d(mels, 16, 3, padding=1, bias=False),
        TCBlock(16, 24), TCBlock(24, 32), TCBlock(32, 48),
        nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(48, classes))


def wavecnn(classes: int = 10) -> nn.Module:
    # After M5 (Dai et al. 2017), as src/lab/ml/models.ts builds it: conv 80/4 then 3-tap convs,
    # each with batchnorm, ReLU and max-pool 4; global average pool; 'same' padding.
    layers, cin = [], 1
    for i, c in enumerate([32, 32, 64, 64]):
        k, s = (80, 4) if i == 0 else (3, 1)
        layers += [nn.Conv1d(cin, c, k, stride=s, padding=(k - 1) // 2, bias=False), nn.BatchNorm1d(c), nn.ReLU(), nn.MaxPool1d(4, ceil_mode=True)]
        cin = c
    return nn.Sequential(*layers, nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(cin, classes))


def build(name: str):
    if name == "cnn-bn":
        return cnn(True), (1, 64, 128)
    if name == "cnn":
        return cnn(False), (1, 64, 128)
    if name == "tc-resnet8":
        return tc_resnet8(), (64, 128)
    if name == "wavecnn":
        return wavecnn(), (1, 16000)
    raise SystemExit(f"unknown model {name}")


class Trainer:
    """One model with its optimiser and batch, kept between timings (bench/train.mjs --rounds)."""

    def __init__(self, name: str, batch: int):
        torch.manual_seed(0)
        self.model, shape = build(name)
        self.model.train()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.loss_fn = nn.CrossEntropyLoss()  # softmax + categorical cross-entropy, as in the tfjs model
        self.x = torch.randn(batch, *shape)
        self.y = torch.arange(batch) % 10
        self.batch = batch

    def step(self):
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        return loss.item()

    def time(self, steps: int) -> dict:
        t = time.perf_counter()
        for _ in range(steps):
            self.step()
        dt = (time.perf_counter() - t) / steps
        return {"samples_per_s": self.batch / dt, "ms_per_step": dt * 1000}


def serve(batch: int) -> None:
    """Reads `<model> <warmup> <steps>` lines on stdin; answers each with one JSON line.
    A model is built (and warmed up) the first time it is named, then kept."""
    import sys

    trainers = {}
    for line in sys.stdin:
        name, warmup, steps = line.split()
        if name not in trainers:
            trainers[name] = Trainer(name, batch)
            for _ in range(int(warmup)):
                trainers[name].step()
        print(json.dumps(trainers[name].time(int(steps))), flush=True)


def bench(name: str, batch: int, warmup: int, steps: int) -> dict:
    t = Trainer(name, batch)
    for _ in range(warmup):
        t.step()
    out = t.time(steps)
    out["params"] = sum(p.numel() for p in t.model.parameters()) + sum(b.numel() for n, b in t.model.named_buffers() if "running" in n)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="cnn-bn,cnn")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--serve", action="store_true", help="time models on request (stdin), for timings in turns with conno")
    a = ap.parse_args()
    torch.set_num_threads(1)
    # The SIMD level PyTorch's kernels dispatch to ("CPU capability usage: AVX2" in its build config).
    capability = next((l.split(":", 1)[1].strip() for l in torch.__config__.show().splitlines() if "CPU capability usage" in l), "unknown")
    if a.serve:
        print(json.dumps({"torch": torch.__version__, "cpu_capability": capability}), flush=True)
        serve(a.batch)
        return
    out = {"torch": torch.__version__, "cpu_capability": capability, "models": {m: bench(m, a.batch, a.warmup, a.steps) for m in a.models.split(",")}}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
