"""PyTorch CPU twin of vqvid's RCNN training step (packages/model/src/network.ts, output/full.ts, step.ts).

Same network and config as packages/model/bench/throughput.mjs: code embedding (E) -> `layers` conv layers of
kernel x kernel with zero padding (tanh + bias between them; the last one, without bias, is W_x of the recurrence)
-> Elman cell h_t = tanh(W_x conv(x_t) + b + h_{t-1} W) (1x1, state to state) -> full softmax over K codes;
loss = mean cross-entropy of the next frame's code of every cell; gradient clipped to norm 5; one Adam step
(lr 2e-3). The copy-aware gate and the bigram prior of vqvid's default output are left out (O(hidden + 1) per
cell next to O(hidden x K)).

Usage: torch_rcnn.py [--k 1024,10000] [--threads 2,1] [--steps 10] [--warmup 2] [--embed 64] [--hidden 64]
                     [--layers 2] [--kernel 3] [--batch 4] [--bptt 4] [--rows 16] [--cols 16]
Prints one JSON line: cells/s per K and thread count, and the analytic FLOPs of one step.
Missing torch prints {"skipped": ...} and exits 0.
"""
import argparse
import json
import sys
import time

try:
    import torch
    from torch import nn
except ImportError as e:  # the twin is optional
    print(json.dumps({"skipped": f"torch missing ({e}): apt-get install python3-torch"}))
    sys.exit(0)


class RCNN(nn.Module):
    def __init__(self, k, embed, hidden, layers, kernel):
        super().__init__()
        self.embedding = nn.Embedding(k, embed)
        convs, cin = [], embed
        for l in range(layers):
            last = l == layers - 1
            convs.append(nn.Conv2d(cin, hidden, kernel, padding=kernel // 2, bias=not last))
            cin = hidden
        self.convs = nn.ModuleList(convs)
        self.rec_w = nn.Parameter(torch.randn(hidden, hidden) / hidden ** 0.5)
        self.rec_b = nn.Parameter(torch.zeros(hidden))
        self.out = nn.Linear(hidden, k)
        self.hidden = hidden

    def forward(self, codes):
        """codes: int64 [steps, B, R, C] -> logits [steps * B * R * C, K]."""
        steps, b, r, c = codes.shape
        x = self.embedding(codes.reshape(steps * b, r, c)).permute(0, 3, 1, 2)  # NCHW
        for l, conv in enumerate(self.convs):
            x = conv(x)
            if l < len(self.convs) - 1:
                x = torch.tanh(x)
        drive = x.permute(0, 2, 3, 1).reshape(steps, b * r * c, self.hidden)
        return self.out(self.recur(drive).reshape(-1, self.hidden))

    def recur(self, drive):
        """The per-cell recurrence (1x1 state transition): drive [steps, cells, hidden] -> states, same shape."""
        h, states = None, []
        for t in range(drive.shape[0]):
            pre = drive[t] + self.rec_b
            h = torch.tanh(pre if h is None else pre + h @ self.rec_w)
            states.append(h)
        return torch.stack(states)


def step_flops(k, embed, hidden, layers, kernel, cells):
    """Multiply-adds x 2 of the forward matmuls/convs per cell, times 3 for forward + backward (2x forward)."""
    conv = kernel * kernel * (embed * hidden + (layers - 1) * hidden * hidden)
    per_cell = 2 * (conv + hidden * hidden + hidden * k)
    return 3 * per_cell * cells


def measure(a, k, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = RCNN(k, a.embed, a.hidden, a.layers, a.kernel)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    g = torch.Generator().manual_seed(k)
    codes = torch.randint(0, k, (a.bptt + 1, a.batch, a.rows, a.cols), generator=g)
    inputs, targets = codes[:-1], codes[1:].reshape(-1)

    def one():
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(inputs), targets)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()

    for _ in range(a.warmup):
        one()
    best = float("inf")
    for _ in range(2):  # the faster of two runs, as throughput.mjs does: interference only adds time
        t = time.perf_counter()
        for _ in range(a.steps):
            one()
        best = min(best, time.perf_counter() - t)
    cells = a.bptt * a.batch * a.rows * a.cols
    flops = step_flops(k, a.embed, a.hidden, a.layers, a.kernel, cells)
    return {
        "cellsPerSecond": round(cells * a.steps / best),
        "secondsPerStep": round(best / a.steps, 4),
        "gflopsPerSecond": round(flops * a.steps / best / 1e9, 2),
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--k", default="1024,10000")
    p.add_argument("--threads", default="2,1")
    for name, dflt in [("steps", 10), ("warmup", 2), ("embed", 64), ("hidden", 64), ("layers", 2), ("kernel", 3),
                       ("batch", 4), ("bptt", 4), ("rows", 16), ("cols", 16)]:
        p.add_argument(f"--{name}", type=int, default=dflt)
    a = p.parse_args()
    ks = [int(v) for v in a.k.split(",")]
    threads = [int(v) for v in a.threads.split(",")]
    cells = a.bptt * a.batch * a.rows * a.cols
    results = {}
    for k in ks:
        results[str(k)] = {
            "stepFlops": step_flops(k, a.embed, a.hidden, a.layers, a.kernel, cells),
            **{f"threads{t}": measure(a, k, t) for t in threads},
        }
    print(json.dumps({
        "tool": f"torch {torch.__version__}", "config": vars(a), "cellsPerStep": cells,
        "flopsFormula": "3 * 2 * (kernel^2 * (embed*hidden + (layers-1)*hidden^2) + hidden^2 + hidden*K) per cell",
        "results": results,
    }))


if __name__ == "__main__":  # torch_race.py imports RCNN from here
    main()
