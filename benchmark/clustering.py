"""k-means and GCD's semi-supervised k-means: nearest centres by faiss on the GPU when faiss sees one, by a blocked
BLAS matrix product on the CPU.

One engine serves both: plain k-means is semi-supervised k-means with no labelled points. Every parameter is
explicit and returned with the result; faiss's own k-means (which subsamples to 256 points per centroid by
default) is not used: every iteration assigns *all* points. On the CPU, ``||x||^2 - 2 x.c + ||c||^2`` through one
float32 matrix product per block of points was measured 3-4x faster than faiss's flat-index search on the same
machine (benchmark/speed/README.md), with the same assignments.

Semi-supervised k-means (methods/README.md, "k-means and semi-supervised k-means"): labelled class means are the first
K_L centres; k-means++ over the unlabelled points adds the rest; labelled points stay in their class's cluster; the
inertia of an iteration is measured with the centres before its update; the best (assignment, centres) of a run is
kept; the run with the lowest inertia over ``n_init`` restarts wins. Empty clusters are re-seeded with the unlabelled
point farthest from its centre (the reference leaves a NaN centre). """
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import faiss
import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class KMeansConfig:
    n_clusters: int
    n_init: int = 10
    max_iter: int = 200
    tol: float = 1e-4
    seed: int = 0
    use_gpu: bool | None = None  # None: GPU when faiss sees one

    def resolved(self, semi_supervised: bool) -> dict:
        """The parameters as run, for the record (``semi_supervised``: labelled means seed the first centres)."""
        init = "k-means++ seeded by labelled means" if semi_supervised else "k-means++"
        return {**asdict(self), "use_gpu": _use_gpu(self.use_gpu), "init": init,
                "empty_cluster": "reseed_farthest_unlabelled", "subsampling": "none (all points)",
                "nearest_centre": "faiss IndexFlatL2 on GPU" if _use_gpu(self.use_gpu) else "BLAS matmul (numpy)",
                "faiss_version": faiss.__version__}


@dataclass
class KMeansResult:
    labels: np.ndarray  # cluster id of every unlabelled point
    centres: np.ndarray  # (n_clusters, D)
    inertia: float
    n_iter: int
    restart_inertias: list[float] = field(default_factory=list)

    def assign(self, x: np.ndarray, use_gpu: bool | None = None) -> np.ndarray:
        """Nearest final centre of new points (inductive predictions)."""
        return _nearest(_f32(x), self.centres, use_gpu)[1]


def semi_supervised_kmeans(x_unlabelled: np.ndarray, config: KMeansConfig, x_labelled: np.ndarray | None = None,
                           y_labelled: np.ndarray | None = None) -> KMeansResult:
    """Cluster ``x_unlabelled`` into ``config.n_clusters``; labelled classes 0..K_L-1 are clusters 0..K_L-1."""
    xu = _f32(x_unlabelled)
    xl = _f32(x_labelled) if x_labelled is not None else np.zeros((0, xu.shape[1]), np.float32)
    yl = np.asarray(y_labelled, dtype=np.int64) if y_labelled is not None else np.zeros(0, np.int64)
    n_labelled_classes = int(yl.max()) + 1 if len(yl) else 0
    if len(yl) and not np.array_equal(np.unique(yl), np.arange(n_labelled_classes)):
        raise ValueError("labelled classes must be exactly 0..K_L-1 (re-index known classes first)")
    if n_labelled_classes > config.n_clusters or config.n_clusters > n_labelled_classes + len(xu):
        raise ValueError(f"cannot make {config.n_clusters} clusters from {n_labelled_classes} labelled classes "
                         f"and {len(xu)} unlabelled points")
    labelled_sums, labelled_counts = _class_sums(xl, yl, config.n_clusters)
    rng = np.random.RandomState(config.seed)
    best: KMeansResult | None = None
    inertias = []
    for _ in range(config.n_init):
        centres = _kmeans_plus_plus(xu, labelled_sums[:n_labelled_classes] / labelled_counts[:n_labelled_classes,
                                    None], config.n_clusters, rng)
        run = _lloyd(xu, xl, yl, labelled_sums, labelled_counts, centres, config)
        inertias.append(run.inertia)
        if best is None or run.inertia < best.inertia:
            best = run
    best.restart_inertias = inertias
    return best


def kmeans(x: np.ndarray, config: KMeansConfig) -> KMeansResult:
    """Plain k-means with k-means++ initialisation and ``n_init`` restarts."""
    return semi_supervised_kmeans(x, config)


def _lloyd(xu, xl, yl, labelled_sums, labelled_counts, centres, config: KMeansConfig) -> KMeansResult:
    best_inertia, best_labels, best_centres, n_iter = np.inf, None, None, 0
    xu_sq = _sq_norms(xu)
    xl_sq_total = float(_sq_norms(xl).sum(dtype=np.float64))
    for n_iter in range(1, config.max_iter + 1):
        distances, labels = _nearest(xu, centres, config.use_gpu, xu_sq)
        inertia = float(distances.sum(dtype=np.float64)) + _labelled_inertia(xl_sq_total, labelled_sums,
                                                                            labelled_counts, centres)
        new_centres = _update(xu, labels, distances, labelled_sums, labelled_counts, centres)
        if inertia < best_inertia:  # as the reference: this assignment with the centres it moves to
            best_inertia, best_labels, best_centres = inertia, labels, new_centres
        shift = float(np.linalg.norm(new_centres - centres, axis=1).sum()) ** 2
        centres = new_centres
        if shift < config.tol:
            break
    return KMeansResult(best_labels, best_centres, best_inertia, n_iter)


def _update(xu, labels, distances, labelled_sums, labelled_counts, centres) -> np.ndarray:
    k = len(centres)
    onehot = sp.csr_matrix((np.ones(len(xu), np.float32), (labels, np.arange(len(xu)))), shape=(k, len(xu)))
    sums = np.asarray(onehot @ xu) + labelled_sums
    counts = np.bincount(labels, minlength=k) + labelled_counts
    empty = np.flatnonzero(counts == 0)
    if len(empty):  # re-seed with the unlabelled points farthest from their centres
        far = np.argsort(-distances, kind="stable")[:len(empty)]
        sums[empty], counts[empty] = xu[far], 1
    return (sums / counts[:, None]).astype(np.float32)


def _kmeans_plus_plus(xu: np.ndarray, seeds: np.ndarray, k: int, rng: np.random.RandomState) -> np.ndarray:
    """Add centres drawn with probability proportional to squared distance (running minimum, GCD's draw rule)."""
    seeds = np.asarray(seeds)
    centres = list(seeds)
    if not centres:
        centres.append(xu[rng.randint(len(xu))])
    sq_norms = _sq_norms(xu)
    min_d2 = np.full(len(xu), np.inf, dtype=np.float64)
    # seeds in a wider dtype (labelled means are float64): cast the points once, not once per seed (same products)
    x_seeds = xu.astype(seeds.dtype) if len(seeds) and seeds.dtype != xu.dtype else xu
    for c in centres:
        min_d2 = np.minimum(min_d2, _sq_dist_to(x_seeds, sq_norms, c))
    while len(centres) < k:
        q = np.cumsum(min_d2 / min_d2.sum())
        pick = min(int(np.searchsorted(q, rng.random_sample())), len(xu) - 1)
        centres.append(xu[pick])
        min_d2 = np.minimum(min_d2, _sq_dist_to(xu, sq_norms, xu[pick]))
    return np.asarray(centres, dtype=np.float32)


def _sq_dist_to(x: np.ndarray, sq_norms: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.maximum(sq_norms - 2.0 * (x @ c) + float(c @ c), 0.0)


def _sq_norms(x: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", x, x)


def _class_sums(xl, yl, k) -> tuple[np.ndarray, np.ndarray]:
    sums = np.zeros((k, xl.shape[1]), np.float64)
    np.add.at(sums, yl, xl)
    return sums.astype(np.float32), np.bincount(yl, minlength=k)


def _labelled_inertia(xl_sq_total: float, labelled_sums, labelled_counts, centres) -> float:
    """sum over labelled x of ||x - c_y||^2 = sum ||x||^2 - 2 sum_k c_k . S_k + sum_k n_k ||c_k||^2 (S_k, n_k: the
    sum and count of class k's labelled points); O(K D) per iteration instead of O(N_L D)."""
    c = centres.astype(np.float64)
    return float(xl_sq_total - 2.0 * np.einsum("kd,kd->", c, labelled_sums.astype(np.float64))
                 + np.dot(labelled_counts, np.einsum("kd,kd->k", c, c)))


NEAREST_BLOCK = 16_384  # points per matrix product on the CPU: the block's distances take 64 KiB per centre


def _nearest(x: np.ndarray, centres: np.ndarray, use_gpu: bool | None = None,
             x_sq: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(squared distance to the nearest centre, its index) of every row of ``x``."""
    centres = _f32(centres)
    if _use_gpu(use_gpu):
        index = faiss.index_cpu_to_all_gpus(faiss.IndexFlatL2(centres.shape[1]))
        index.add(centres)
        distances, labels = index.search(x, 1)
        return np.maximum(distances[:, 0], 0.0), labels[:, 0].astype(np.int64)
    x_sq = _sq_norms(x) if x_sq is None else x_sq
    c_sq = _sq_norms(centres)
    distances, labels = np.empty(len(x), np.float32), np.empty(len(x), np.int64)
    for start in range(0, len(x), NEAREST_BLOCK):
        block = slice(start, start + NEAREST_BLOCK)
        d = x[block] @ centres.T
        d *= -2.0
        d += c_sq  # ||c||^2 - 2 x.c: the row's ||x||^2 does not change its argmin
        labels[block] = np.argmin(d, axis=1)
        distances[block] = d[np.arange(len(d)), labels[block]] + x_sq[block]
    return np.maximum(distances, 0.0), labels


def _use_gpu(requested: bool | None) -> bool:
    available = getattr(faiss, "get_num_gpus", lambda: 0)() > 0
    if requested and not available:
        raise RuntimeError("GPU k-means requested but faiss sees no GPU (install faiss-gpu or drop use_gpu)")
    return available if requested is None else requested


def _f32(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)
