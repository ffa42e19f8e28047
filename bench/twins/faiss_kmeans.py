"""faiss twin of vqvid's k-means fit: the same points, K, iterations and initial centroids.

Usage: faiss_kmeans.py DATA.f32 N DIM K ITERS INIT.f32 [THREADS]
DATA.f32 holds N x DIM float32 rows, INIT.f32 K x DIM initial centroids (vqvid's k-means++ seeds), both raw
little-endian. Prints one JSON line: seconds (train), perIteration (seconds), inertia (sum of squared
distances to the final centroids, by an exact search after training), objective history.
Missing faiss prints {"skipped": ...} and exits 0.
"""
import json
import sys
import time

try:
    import numpy as np
    import faiss
except ImportError as e:  # the twin is optional
    print(json.dumps({"skipped": f"faiss missing ({e}): apt-get install python3-faiss"}))
    sys.exit(0)


def main():
    path, n, dim, k, iters, init_path = sys.argv[1], *map(int, sys.argv[2:6]), sys.argv[6]
    threads = int(sys.argv[7]) if len(sys.argv) > 7 else 0
    if threads:
        faiss.omp_set_num_threads(threads)
    x = np.fromfile(path, dtype="<f4").reshape(n, dim)
    init = np.fromfile(init_path, dtype="<f4").reshape(k, dim)
    # no subsampling (vqvid uses every point), empty clusters handled by faiss's own split rule
    km = faiss.Kmeans(dim, k, niter=iters, verbose=False, seed=1, max_points_per_centroid=n, min_points_per_centroid=1)
    t = time.perf_counter()
    km.train(x, init_centroids=init)
    seconds = time.perf_counter() - t
    stats = km.iteration_stats  # a list of dicts (obj, time, time_search, imbalance_factor, nsplit)
    t = time.perf_counter()
    index = faiss.IndexFlatL2(dim)
    index.add(km.centroids)
    dist, _ = index.search(x, 1)
    search = time.perf_counter() - t
    print(json.dumps({
        "tool": f"faiss {faiss.__version__}", "threads": faiss.omp_get_max_threads(),
        "seconds": seconds, "finalSearchSeconds": search,
        # faiss's iteration times are cumulative since the start of train
        "perIteration": [b["time"] - a for a, b in zip([0.0] + [s["time"] for s in stats], stats)],
        "objective": [s["obj"] for s in stats],
        "inertia": float(dist.astype(np.float64).sum()),
    }))


main()
