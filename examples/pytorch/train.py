"""A small PyTorch CNN trained on conno's log-mel table, as a command stage of the study.

conno hands the stage its inputs in CONNO_INPUTS (conno_io.input_path('features') is the log-mel
table of this condition) and a GPU in CUDA_VISIBLE_DEVICES when the stage asks for one. The
script writes what the study's stages read, in conno's schemas (conno_io.write_*):

  predictions  the final model on every sample of every split (test, test@snr=..., ...)
  dynamics     every train sample after every epoch: loss, correctness, margin, logits
  embeddings   the penultimate layer of the final model, every sample
  curves       per-epoch accuracies (given labels, true labels, flipped samples, dev)
  summary.json metrics for conno.lock

Deterministic: seeded, one CPU thread, torch.use_deterministic_algorithms, so that two runs give
the same bytes and `conno verify` holds. On a GPU the numbers differ from the CPU's (and need
CUBLAS_WORKSPACE_CONFIG, set below, to be reproducible at all).
"""
import argparse
import json
import os

os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')

import numpy as np
import torch
from torch import nn

import conno_io as cio


class SmallCnn(nn.Module):
    def __init__(self, n_classes, width=16):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),
        )
        self.head = nn.Linear(2 * width, n_classes)

    def forward(self, x):
        # Global average pooling as a mean: adaptive pooling has no deterministic CUDA backward.
        e = self.features(x).mean(dim=(2, 3))
        return self.head(e), e


def run_all(model, x, device, batch=256):
    """Logits and embeddings of every row, in inference mode."""
    model.eval()
    logits, emb = [], []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            z, e = model(x[i:i + batch].to(device))
            logits.append(z.cpu())
            emb.append(e.cpu())
    return torch.cat(logits).numpy(), torch.cat(emb).numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--epochs', type=int, default=10)
    ap.add_argument('--batch-size', type=int, default=32)
    ap.add_argument('--lr', type=float, default=3e-3)
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')

    t = cio.read_table(cio.input_path('features'))
    classes = json.loads(t.metadata['conno.classes'])
    ids, splits = np.asarray(t['clip_id'], dtype=object), np.asarray(t['split'], dtype=object)
    labels = np.asarray(t['label'], dtype=np.int64)
    orig = np.asarray(t['label_orig'], dtype=np.int64) if 'label_orig' in t.column_names else labels
    x = torch.from_numpy(np.ascontiguousarray(t['features'], dtype=np.float32)).unsqueeze(1)  # [n, 1, mels, frames]
    train = np.flatnonzero(splits == 'train')
    dev = np.flatnonzero(splits == 'dev')
    flipped = labels[train] != orig[train]
    print(f'{len(ids)} rows, {len(train)} train ({int(flipped.sum())} flipped), {len(classes)} classes, input {list(x.shape[1:])}')
    print(f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '')}, device {device}")

    model = SmallCnn(len(classes)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    loss_fn = nn.CrossEntropyLoss()
    y = torch.from_numpy(labels)
    order = torch.Generator().manual_seed(a.seed)
    epoch_logits, curves = [], {'train_acc': [], 'train_acc_orig': [], 'flipped_acc_noisy': [], 'dev_acc': []}
    for epoch in range(a.epochs):
        model.train()
        perm = train[torch.randperm(len(train), generator=order).numpy()]
        for i in range(0, len(perm), a.batch_size):
            b = torch.from_numpy(perm[i:i + a.batch_size])
            opt.zero_grad()
            z, _ = model(x[b].to(device))
            loss_fn(z, y[b].to(device)).backward()
            opt.step()
        z, _ = run_all(model, x, device)
        pred = z.argmax(1)
        epoch_logits.append(z[train])
        curves['train_acc'].append(float((pred[train] == labels[train]).mean()))
        curves['train_acc_orig'].append(float((pred[train] == orig[train]).mean()))
        curves['flipped_acc_noisy'].append(float((pred[train][flipped] == labels[train][flipped]).mean()) if flipped.any() else float('nan'))
        curves['dev_acc'].append(float((pred[dev] == labels[dev]).mean()) if len(dev) else float('nan'))
        print(f'epoch {epoch}: train {curves["train_acc"][-1]:.3f} (true labels {curves["train_acc_orig"][-1]:.3f}) dev {curves["dev_acc"][-1]:.3f}')

    os.makedirs(a.out, exist_ok=True)
    logits, emb = run_all(model, x, device)
    cio.write_predictions(f'{a.out}/predictions.arrow', clip_id=ids, split=splits, label=labels, label_orig=orig, logits=logits, classes=classes)
    cio.write_embeddings(f'{a.out}/embeddings.arrow', clip_id=ids, split=splits, label=labels, embedding=emb, classes=classes)
    # Epoch-major: every train sample after epoch 0, then after epoch 1, ... (what score-difficulty reads).
    d = cio.dynamics_from_logits(np.stack(epoch_logits), labels[train])
    cio.write_dynamics(f'{a.out}/dynamics.arrow', clip_id=np.tile(ids[train], a.epochs), flipped=np.tile(flipped, a.epochs), classes=classes, **d)
    cio.write_curves(f'{a.out}/curves.arrow', epoch=np.arange(a.epochs), best_epoch=a.epochs - 1, **curves)
    test = splits == 'test'
    summary = {'test_acc': round(float((logits.argmax(1)[test] == labels[test]).mean()), 6), 'torch': torch.__version__}
    with open(f'{a.out}/summary.json', 'w') as f:
        json.dump(summary, f, sort_keys=True)
    print(json.dumps(summary))


if __name__ == '__main__':
    main()
