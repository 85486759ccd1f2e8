#!/usr/bin/python3
"""Reference values for src/lab/eval/metrics.test.ts, computed by scikit-learn.

Writes test/fixtures/sklearn-eval/<case>.json for a few seeded cases: the true labels, the logits
(float64), the argmax predictions and sklearn's accuracy_score, balanced_accuracy_score,
f1_score(average='macro') (default zero_division: 0 with a warning), log_loss (natural log, on the
softmax of the logits, labels = 0..K-1) and confusion_matrix (labels = 0..K-1).

The cases cover: a balanced random case, a class that is predicted but never true, a class that is
true but never predicted, classes that occur nowhere, a perfect classifier and a tiny case.
Logits are moderate, so no probability comes near log_loss's clipping (float64 eps) or the
evaluator's own floor (1e-7): the two definitions agree on them.

Usage (Debian: apt-get install -y python3-sklearn; run with /usr/bin/python3):
    /usr/bin/python3 scripts/sklearn_fixtures_eval.py
"""
import json
import os
import warnings

import numpy as np
import sklearn
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score, log_loss

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'sklearn-eval')


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def case(name, y_true, logits, note):
    k = logits.shape[1]
    y_pred = logits.argmax(axis=1)
    probs = softmax(logits)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # sklearn warns about ill-defined precision/recall: that is the point
        ref = {
            'accuracy': accuracy_score(y_true, y_pred),
            'balanced_accuracy': balanced_accuracy_score(y_true, y_pred),
            'f1_macro': f1_score(y_true, y_pred, average='macro'),
            'log_loss': log_loss(y_true, probs, labels=list(range(k))),
            'confusion_matrix': confusion_matrix(y_true, y_pred, labels=list(range(k))).tolist(),
        }
    doc = {
        'note': note,
        'sklearn': sklearn.__version__,
        'k': int(k),
        'y_true': [int(v) for v in y_true],
        'logits': [float(v) for v in logits.ravel()],
        'y_pred': [int(v) for v in y_pred],
        'expected': {key: (float(v) if not isinstance(v, list) else v) for key, v in ref.items()},
    }
    with open(os.path.join(OUT, name + '.json'), 'w') as f:
        json.dump(doc, f, indent=1)
        f.write('\n')


def noisy_logits(rng, y_true, k, signal, spread):
    z = rng.normal(0.0, spread, size=(len(y_true), k))
    z[np.arange(len(y_true)), y_true] += signal
    return z


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.RandomState(20240501)

    y = rng.randint(0, 5, size=200)
    case('random-k5', y, noisy_logits(rng, y, 5, 1.5, 1.5), 'K=5, n=200, balanced random labels, about 50% accuracy')

    y = rng.randint(0, 3, size=120)  # class 3 is never true
    z = noisy_logits(rng, y, 4, 1.0, 1.5)
    z[:, 3] += 0.5  # ... but often predicted
    case('predicted-never-true', y, z, 'K=4: class 3 never occurs in y_true but is predicted')

    y = rng.randint(0, 4, size=150)
    z = noisy_logits(rng, y, 4, 2.0, 1.0)
    z[:, 2] -= 10.0  # class 2 is true but never predicted
    case('true-never-predicted', y, z, 'K=4: class 2 occurs in y_true but is never predicted')

    y = rng.choice([0, 2, 5, 7], size=60)  # classes 1, 3, 4, 6, 8, 9 occur nowhere
    z = noisy_logits(rng, y, 10, 3.0, 1.0)
    z[:, [1, 3, 4, 6, 8, 9]] -= 8.0
    case('sparse-k10', y, z, 'K=10: only classes 0, 2, 5, 7 occur, in y_true and in the predictions')

    y = rng.randint(0, 3, size=40)
    case('perfect', y, noisy_logits(rng, y, 3, 6.0, 0.5), 'K=3: every prediction right')

    y = np.array([0, 1, 2, 2, 1, 0, 2])
    case('tiny', y, rng.normal(0.0, 1.0, size=(7, 3)), 'K=3, n=7: logits unrelated to the labels')


if __name__ == '__main__':
    main()
