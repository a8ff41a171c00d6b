"""Train and prune a small CNN on scikit-learn's handwritten digits and record its real tensors.

    pip install scikit-learn        # only for the data (load_digits: 1797 8x8 images)
    python benchmarks/digits_cnn.py # writes python/otc_emu/experiments/data/digits_cnn.npz (~0.2 MB)

The network (NumPy, float32, trained here): conv1 1->16 3x3 pad 1 on 8x8, ReLU; conv2 16->32
3x3 pad 1, ReLU, 2x2 max-pool to 4x4; conv3 32->64 3x3 pad 1, ReLU; global average pool; a
64->10 linear layer. Adam (lr 3e-3), batch 64, 30 epochs on 1437 training images (seeded split).
Pruning: magnitude pruning of the conv and linear weights on the AGP schedule of Zhu & Gupta
2017 (s_t = s_f + (s_i - s_f) (1 - (t - t0) / (n dt))^3, from epoch 4 to 20, every epoch; masks kept
while training), to 50% (conv1: 9 weights per filter), 80% (conv2, conv3) and 70% (linear).

Recorded (float16): for each conv layer its pruned weights (K, C, 3, 3) and its input activations
for the first 64 test images (N, C, H, W): conv1's input is the image (its zeros are the digits'
background), conv2's and conv3's are ReLU outputs, so their zeros are the network's own. The
test accuracy before and after pruning is printed and stored.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "python" / "otc_emu" / "experiments" / "data" / "digits_cnn.npz"
FINAL_SPARSITY = {"conv1": 0.5, "conv2": 0.8, "conv3": 0.8, "fc": 0.7}
EPOCHS, PRUNE_START, PRUNE_END, BATCH, LR, RECORD = 30, 4, 20, 64, 3e-3, 64


def im2col(x, r=3, pad=1):
    """(N, C, H, W) -> (N*H*W, C*r*r) for a stride-1 'same' convolution."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    cols = np.stack([xp[:, :, i:i + h, j:j + w] for i in range(r) for j in range(r)], axis=2)  # N, C, r*r, H, W
    return cols.transpose(0, 3, 4, 1, 2).reshape(n * h * w, c * r * r)


def col2im(cols, shape, r=3, pad=1):
    n, c, h, w = shape
    g = cols.reshape(n, h, w, c, r * r).transpose(0, 3, 4, 1, 2)
    xp = np.zeros((n, c, h + 2 * pad, w + 2 * pad), cols.dtype)
    for idx in range(r * r):
        i, j = divmod(idx, r)
        xp[:, :, i:i + h, j:j + w] += g[:, :, idx]
    return xp[:, :, pad:pad + h, pad:pad + w]


class Net:
    def __init__(self, rng):
        def he(*shape):
            return (rng.standard_normal(shape) * np.sqrt(2.0 / np.prod(shape[1:]))).astype(np.float32)
        self.p = {"conv1": he(16, 1, 3, 3), "conv2": he(32, 16, 3, 3), "conv3": he(64, 32, 3, 3), "fc": he(10, 64),
                  "b1": np.zeros(16, np.float32), "b2": np.zeros(32, np.float32), "b3": np.zeros(64, np.float32),
                  "bfc": np.zeros(10, np.float32)}
        self.mask = {k: np.ones_like(v) for k, v in self.p.items() if k in FINAL_SPARSITY}
        self.m = {k: np.zeros_like(v) for k, v in self.p.items()}
        self.v = {k: np.zeros_like(v) for k, v in self.p.items()}
        self.t = 0

    def conv(self, x, name, bias):
        w = self.p[name]
        cols = im2col(x)
        y = cols @ w.reshape(w.shape[0], -1).T + self.p[bias]
        n, _, h, wd = x.shape
        return y.reshape(n, h, wd, -1).transpose(0, 3, 1, 2), cols

    def forward(self, x):
        c = {"x1": x}
        z1, c["cols1"] = self.conv(x, "conv1", "b1")
        a1 = np.maximum(z1, 0)
        c["x2"] = a1
        z2, c["cols2"] = self.conv(a1, "conv2", "b2")
        a2 = np.maximum(z2, 0)
        n = a2.shape[0]
        blocks = a2.reshape(n, 32, 4, 2, 4, 2)
        pooled = blocks.max(axis=(3, 5))
        c["a2"], c["pooled"] = a2, pooled
        c["x3"] = pooled
        z3, c["cols3"] = self.conv(pooled, "conv3", "b3")
        a3 = np.maximum(z3, 0)
        c["a3"] = a3
        g = a3.mean(axis=(2, 3))
        c["g"] = g
        return g @ self.p["fc"].T + self.p["bfc"], c

    def backward(self, logits, labels, c):
        n = logits.shape[0]
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        prob = e / e.sum(axis=1, keepdims=True)
        d = prob
        d[np.arange(n), labels] -= 1
        d /= n
        grads = {"fc": d.T @ c["g"], "bfc": d.sum(0)}
        dg = d @ self.p["fc"]
        da3 = np.repeat(np.repeat(dg[:, :, None, None] / 16.0, 4, axis=2), 4, axis=3) * (c["a3"] > 0)
        dx3 = self._conv_back(da3, c["cols3"], "conv3", "b3", c["x3"].shape, grads)
        a2, pooled = c["a2"], c["pooled"]
        up = np.repeat(np.repeat(pooled, 2, axis=2), 2, axis=3)
        dup = np.repeat(np.repeat(dx3, 2, axis=2), 2, axis=3)
        da2 = dup * (a2 == up) * (a2 > 0)  # ties share the gradient: harmless here
        dx2 = self._conv_back(da2, c["cols2"], "conv2", "b2", c["x2"].shape, grads)
        da1 = dx2 * (c["x2"] > 0)
        self._conv_back(da1, c["cols1"], "conv1", "b1", c["x1"].shape, grads)
        return grads

    def _conv_back(self, dz, cols, name, bias, xshape, grads):
        w = self.p[name]
        dzm = dz.transpose(0, 2, 3, 1).reshape(-1, w.shape[0])
        grads[name] = (dzm.T @ cols).reshape(w.shape)
        grads[bias] = dzm.sum(0)
        return col2im(dzm @ w.reshape(w.shape[0], -1), xshape)

    def step(self, grads):
        self.t += 1
        for k, g in grads.items():
            self.m[k] = 0.9 * self.m[k] + 0.1 * g
            self.v[k] = 0.999 * self.v[k] + 0.001 * g * g
            mh, vh = self.m[k] / (1 - 0.9 ** self.t), self.v[k] / (1 - 0.999 ** self.t)
            self.p[k] -= LR * mh / (np.sqrt(vh) + 1e-8)
            if k in self.mask:
                self.p[k] *= self.mask[k]

    def prune(self, fraction_of_final):
        """AGP: the sparsity of each pruned tensor at this point of the schedule, by magnitude."""
        for k, s_f in FINAL_SPARSITY.items():
            s = s_f * (1 - (1 - fraction_of_final) ** 3)
            w = np.abs(self.p[k]).ravel()
            n = int(round(s * w.size))
            if n:
                thr = np.partition(w, n - 1)[n - 1]
                self.mask[k] = (np.abs(self.p[k]) > thr).astype(np.float32)
                self.p[k] *= self.mask[k]


def accuracy(net, x, y):
    return float((net.forward(x)[0].argmax(1) == y).mean())


def main() -> int:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        print("this script needs scikit-learn for the data: pip install scikit-learn", file=sys.stderr)
        return 1
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    test, train = order[:360], order[360:]
    net = Net(rng)
    dense_acc = None
    for epoch in range(EPOCHS):
        if epoch == PRUNE_START:
            dense_acc = accuracy(net, x[test], y[test])
        if PRUNE_START <= epoch <= PRUNE_END:
            net.prune((epoch - PRUNE_START) / (PRUNE_END - PRUNE_START))
        batches = rng.permutation(train)
        for i in range(0, len(batches), BATCH):
            b = batches[i:i + BATCH]
            logits, cache = net.forward(x[b])
            net.step(net.backward(logits, y[b], cache))
        print(f"epoch {epoch:2d}: test accuracy {accuracy(net, x[test], y[test]):.3f}, "
              + ", ".join(f"{k} {1 - net.mask[k].mean():.0%}" for k in FINAL_SPARSITY))
    acc = accuracy(net, x[test], y[test])
    _, cache = net.forward(x[test[:RECORD]])
    record = {"accuracy_dense": np.float32(dense_acc), "accuracy_pruned": np.float32(acc)}
    for i, name in enumerate(("conv1", "conv2", "conv3"), 1):
        record[f"{name}_w"] = net.p[name].astype(np.float16)
        record[f"{name}_x"] = cache[f"x{i}"].astype(np.float16)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **record)
    for name in ("conv1", "conv2", "conv3"):
        xs, ws = record[f"{name}_x"], record[f"{name}_w"]
        print(f"{name}: input {xs.shape} {np.mean(xs == 0):.1%} zeros, weights {ws.shape} {np.mean(ws == 0):.1%} zeros")
    print(f"test accuracy: dense (before pruning) {dense_acc:.3f}, pruned {acc:.3f}; wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
