"""PyTorch CPU twin of the time-to-quality race (bench/twins/race.mjs): trains the RCNN of torch_rcnn.py with a
full softmax on the race's training codes, in chunks, and scores the test codes after every chunk.

The network and the training step follow vqvid's (packages/model/src/network.ts, step.ts, batch.ts):
- windows of `bptt` frames from a zero state, `batch` windows per step, each a random `crop` x `crop` crop read
  with a margin of the conv receptive radius (layers x kernel // 2) so crop cells see their true neighbours;
  cells outside the grid are zeroed before every conv (vqvid's mask); the margin is dropped along a dimension
  the crop already covers whole; the loss is the mean cross-entropy over the crop's cells;
- dropout on the embedded codes and on the state as the output reads it (not on the recurrence);
- gradient clipped to global norm `clip`, one Adam step; lr of chunk e = lr * lr_decay^e (vqvid's epoch = one
  chunk of `chunk` steps);
- full softmax over K codes, weights random and bias zero at the start (vqvid's FullSoftmax); no copy-aware
  gate, no bigram prior.
Test bits/code as vqvid's `evaluate`: the test codes alone, from a zero state at their first frame, every cell
of frames 1..T-1 on the whole grid (zero padding at the grid border), without dropout.

CPU seconds are time.process_time() (every thread of this process) around the training steps only: the
evaluations and the data loading are left out. Training stops once the test bits/code are at most --target, or
when the training CPU reaches --cap-cpu (checked after every chunk).

Usage: torch_race.py --codes FILE --frames T --rows R --cols C --k K --train-frames N --target BITS
                     [--cap-cpu S] [--chunk 25] [--threads 2] [--seed 1] [--embed 64] [--hidden 96] [--layers 2]
                     [--kernel 3] [--batch 4] [--bptt 6] [--crop 16] [--lr 1e-2] [--lr-decay 0.97] [--clip 5]
                     [--dropout 0.25] [--log FILE]
FILE holds the codes of all T frames as little-endian uint16 (frame-major, row-major); the first N frames train,
the rest test. Prints one JSON line (the curve and where the target was reached); progress goes to --log.
Missing torch prints {"skipped": ...} and exits 0.
"""
import argparse
import json
import math
import sys
import time

sys.dont_write_bytecode = True  # importing torch_rcnn must not leave a __pycache__ in the checkout

try:
    import numpy as np
    import torch
    from torch import nn
    import torch.nn.functional as F
    from torch_rcnn import RCNN  # the twin's network (this folder is on sys.path when run as a script)
except ImportError as e:  # the twin is optional
    print(json.dumps({"skipped": f"torch missing ({e}): apt-get install python3-torch"}))
    sys.exit(0)


class RaceRCNN(RCNN):
    """torch_rcnn.py's RCNN with vqvid's training-time dropout and grid mask, and a zero-bias output."""

    def __init__(self, k, embed, hidden, layers, kernel, dropout):
        super().__init__(k, embed, hidden, layers, kernel)
        nn.init.zeros_(self.out.bias)
        self.dropout = dropout

    def states(self, codes, mask):
        """codes int64 [steps, B, R, C], mask float [steps, B, R, C] or None -> states [steps, B, R, C, hidden]."""
        steps, b, r, c = codes.shape
        x = self.embedding(codes.reshape(steps * b, r, c))  # [N, R, C, E]
        x = F.dropout(x, self.dropout, self.training).permute(0, 3, 1, 2)  # NCHW
        m = None if mask is None else mask.reshape(steps * b, 1, r, c)
        for l, conv in enumerate(self.convs):
            if m is not None:
                x = x * m  # zero padding at the real grid border, not at the crop border
            x = conv(x)
            if l < len(self.convs) - 1:
                x = torch.tanh(x)
        drive = x.permute(0, 2, 3, 1).reshape(steps, b * r * c, self.hidden)
        return self.recur(drive).reshape(steps, b, r, c, self.hidden)


def test_bits(model, test, chunk_frames=4):
    """Bits per code of frames 1..T-1 of `test` (int64 [T, R, C]), from a zero state at frame 0, whole grid."""
    model.eval()
    with torch.no_grad():
        T, R, C = test.shape
        hs = model.states(test[:-1].unsqueeze(1), None).reshape(T - 1, R * C, model.hidden)
        total = 0.0
        for t0 in range(0, T - 1, chunk_frames):  # logits of a few frames at a time: [cells, K] floats
            h = hs[t0:t0 + chunk_frames].reshape(-1, model.hidden)
            target = test[t0 + 1:t0 + 1 + chunk_frames].reshape(-1)
            total += F.cross_entropy(model.out(h), target, reduction="sum").item()
    model.train()
    return total / ((T - 1) * R * C) / math.log(2)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--codes", required=True)
    p.add_argument("--target", type=float, required=True)
    p.add_argument("--cap-cpu", type=float, default=480.0)
    p.add_argument("--log")
    for name in ["frames", "rows", "cols", "k", "train-frames"]:
        p.add_argument(f"--{name}", type=int, required=True)
    for name, dflt in [("chunk", 25), ("threads", 2), ("seed", 1), ("embed", 64), ("hidden", 96), ("layers", 2),
                       ("kernel", 3), ("batch", 4), ("bptt", 6), ("crop", 16)]:
        p.add_argument(f"--{name}", type=int, default=dflt)
    for name, dflt in [("lr", 1e-2), ("lr-decay", 0.97), ("clip", 5.0), ("dropout", 0.25)]:
        p.add_argument(f"--{name}", type=float, default=dflt)
    a = p.parse_args()
    log = open(a.log, "a") if a.log else sys.stderr

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    codes = np.fromfile(a.codes, dtype="<u2").astype(np.int64)
    if codes.size != a.frames * a.rows * a.cols:
        print(json.dumps({"skipped": f"{a.codes}: {codes.size} codes, expected {a.frames}x{a.rows}x{a.cols}"}))
        sys.exit(1)
    codes = codes.reshape(a.frames, a.rows, a.cols)
    train, test = codes[:a.train_frames], torch.from_numpy(codes[a.train_frames:])

    # crop and margin as vqvid's batchGeometry
    crop_r, crop_c = min(a.crop, a.rows), min(a.crop, a.cols)
    radius = a.layers * (a.kernel // 2)
    mr = radius if crop_r < a.rows else 0
    mc = radius if crop_c < a.cols else 0
    steps = min(a.bptt, a.train_frames - 1)
    padded = np.zeros((a.train_frames, a.rows + 2 * mr, a.cols + 2 * mc), dtype=np.int64)
    padded[:, mr:mr + a.rows, mc:mc + a.cols] = train
    inside = np.zeros(padded.shape[1:], dtype=np.float32)
    inside[mr:mr + a.rows, mc:mc + a.cols] = 1
    er, ec = crop_r + 2 * mr, crop_c + 2 * mc

    def batch():
        t0 = rng.integers(0, a.train_frames - steps, a.batch)
        r0 = rng.integers(0, a.rows - crop_r + 1, a.batch)
        c0 = rng.integers(0, a.cols - crop_c + 1, a.batch)
        x = np.stack([padded[t:t + steps, r:r + er, c:c + ec] for t, r, c in zip(t0, r0, c0)], 1)
        m = np.stack([np.broadcast_to(inside[r:r + er, c:c + ec], (steps, er, ec)) for r, c in zip(r0, c0)], 1)
        y = np.stack([train[t + 1:t + 1 + steps, r:r + crop_r, c:c + crop_c] for t, r, c in zip(t0, r0, c0)], 1)
        return torch.from_numpy(x), torch.from_numpy(np.ascontiguousarray(m)), torch.from_numpy(y).reshape(-1)

    model = RaceRCNN(a.k, a.embed, a.hidden, a.layers, a.kernel, a.dropout)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)

    def point(cpu, wall, step):
        bits = test_bits(model, test)
        row = {"cpuSeconds": round(cpu, 2), "wallSeconds": round(wall, 2), "steps": step, "testBits": round(bits, 4)}
        print(json.dumps(row), file=log, flush=True)
        return row

    curve = [point(0.0, 0.0, 0)]
    cpu = wall = 0.0
    step = chunk = 0
    reached = None
    while curve[-1]["testBits"] > a.target and cpu < a.cap_cpu:
        for group in opt.param_groups:
            group["lr"] = a.lr * a.lr_decay ** chunk
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(a.chunk):
            x, m, y = batch()
            hs = model.states(x, m)[:, :, mr:mr + crop_r, mc:mc + crop_c].reshape(-1, a.hidden)
            hs = F.dropout(hs, a.dropout, True)
            loss = F.cross_entropy(model.out(hs), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), a.clip)
            opt.step()
            step += 1
        cpu += time.process_time() - c0
        wall += time.perf_counter() - w0
        chunk += 1
        curve.append(point(cpu, wall, step))
        if not math.isfinite(curve[-1]["testBits"]):
            break
    last = curve[-1]
    if last["testBits"] <= a.target:
        reached = {"cpuSeconds": last["cpuSeconds"], "cpuMinutes": round(last["cpuSeconds"] / 60, 3), "steps": last["steps"]}
    print(json.dumps({
        "tool": f"torch {torch.__version__}", "threads": torch.get_num_threads(), "config": vars(a),
        "cellsPerStep": steps * a.batch * crop_r * crop_c, "curve": curve, "reached": reached,
        "atCap": None if reached else last,
    }))


if __name__ == "__main__":
    main()
