#!/usr/bin/env python3
"""Reference PSNR/SSIM values for @vqvid/metrics tests, computed once with scikit-image.

Run from the repository root (Debian's python3-skimage lives in /usr/bin/python3):

    /usr/bin/python3 packages/metrics/scripts/make-fixtures.py

Writes packages/metrics/src/fixtures/skimage-reference.json. Images are generated from a fixed numpy seed,
so rerunning reproduces the file for the same numpy/scipy/skimage versions (recorded in the file).
"""
import json
import os
import sys

import numpy as np
import scipy
import scipy.ndimage as ndi
import skimage
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

COMMAND = "/usr/bin/python3 packages/metrics/scripts/make-fixtures.py"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "fixtures", "skimage-reference.json")
rng = np.random.default_rng(20161)


def scene(h, w):
    """A smooth gradient with a bright disc and a textured square: edges, flat areas and texture."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = 40 + 120 * x / w + 30 * np.sin(y / 3.0)
    img[(x - w * 0.35) ** 2 + (y - h * 0.5) ** 2 < (h * 0.25) ** 2] = 220
    sq = (x > w * 0.6) & (x < w * 0.9) & (y > h * 0.2) & (y < h * 0.7)
    img[sq] = 60 + 40 * rng.random(sq.sum())
    return np.clip(np.round(img), 0, 255)


def to_u8(img):
    return np.clip(np.round(img), 0, 255)


def ssim(a, b, peak, full=False):
    return structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=peak, full=full)


def case(name, truth, pred, peak, with_map=False):
    # skimage computes in the input float type; float64 matches our Float64 accumulators.
    t = np.asarray(truth, dtype=np.float64)
    p = np.asarray(pred, dtype=np.float64)
    out = {
        "name": name,
        "width": int(t.shape[1]),
        "height": int(t.shape[0]),
        "peak": peak,
        "truth": [float(v) for v in t.ravel()],
        "pred": [float(v) for v in p.ravel()],
        "mse": float(mean_squared_error(t, p)),
        "psnr": float(peak_signal_noise_ratio(t, p, data_range=peak)),
    }
    if with_map:
        m, s_map = ssim(p, t, peak, full=True)
        out["ssim"] = float(m)
        out["ssimMap"] = [float(v) for v in s_map.ravel()]
    else:
        out["ssim"] = float(ssim(p, t, peak))
    return out


def main():
    a = scene(24, 32)
    b = scene(30, 40)
    c = scene(11, 13)
    cases = [
        case("noisy-32x24", a, to_u8(a + rng.normal(0, 12, a.shape)), 255, with_map=True),
        case("blurred-32x24", a, to_u8(ndi.gaussian_filter(a, 1.2, mode="nearest")), 255),
        case("shifted-40x30", b, np.roll(b, (1, 2), axis=(0, 1)), 255),
        case("noisy-40x30", b, to_u8(b + rng.normal(0, 30, b.shape)), 255),
        # Smallest legal size: reflect padding covers most of the frame.
        case("blurred-13x11", c, to_u8(ndi.gaussian_filter(c, 2.0, mode="nearest")), 255, with_map=True),
        # Values in [0, 1] stored as float32 (what a Video holds) and peak 1.
        case("unit-range-32x24", (a / 255).astype(np.float32),
             (to_u8(a + rng.normal(0, 8, a.shape)) / 255).astype(np.float32), 1.0),
    ]
    doc = {
        "generator": COMMAND,
        "versions": {"python": sys.version.split()[0], "numpy": np.__version__, "scipy": scipy.__version__,
                     "skimage": skimage.__version__},
        "calls": {
            "mse": "skimage.metrics.mean_squared_error(truth, pred)",
            "psnr": "skimage.metrics.peak_signal_noise_ratio(truth, pred, data_range=peak)",
            "ssim": "skimage.metrics.structural_similarity(pred, truth, gaussian_weights=True, sigma=1.5, "
                    "use_sample_covariance=False, data_range=peak[, full=True])",
        },
        "layout": "truth/pred/ssimMap are row-major height x width, float64 inputs",
        "cases": cases,
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    for c_ in cases:
        print(f'{c_["name"]}: mse={c_["mse"]:.6f} psnr={c_["psnr"]:.6f} ssim={c_["ssim"]:.6f}')


if __name__ == "__main__":
    main()
