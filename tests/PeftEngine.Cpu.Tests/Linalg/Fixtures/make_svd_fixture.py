"""Singular values of deterministic test matrices, computed with NumPy (LAPACK gesdd), for GolubKahanSvdTests.

The matrices are defined by closed formulas that the C# test evaluates the same way, so only the singular
values are stored. Run with the system Python: /usr/bin/python3 make_svd_fixture.py
"""
import json
import numpy as np


def smooth(m, n):
    i = np.arange(m, dtype=np.float64)[:, None]
    j = np.arange(n, dtype=np.float64)[None, :]
    return np.sin(0.7 * i + 1.3 * j + 0.01 * i * j) + np.where(i == j, 0.5, 0.0)


def low_rank(m, n, r):
    i = np.arange(m, dtype=np.float64)[:, None]
    j = np.arange(n, dtype=np.float64)[None, :]
    a = np.zeros((m, n))
    for t in range(r):
        a += np.cos(0.3 * (t + 1) * i + 0.1 * t) * np.sin(0.17 * (t + 2) * j + 0.2)
    return a


def graded(m, n):
    j = np.arange(n, dtype=np.float64)[None, :]
    return smooth(m, n) * 10.0 ** (-6.0 * j / n)


cases = {
    "smooth_200x150": smooth(200, 150),
    "smooth_120x260": smooth(120, 260),
    "smooth_301x301": smooth(301, 301),
    "lowrank_180x160_r7": low_rank(180, 160, 7),
    "graded_160x128": graded(160, 128),
}
out = {name: np.linalg.svd(a, compute_uv=False).tolist() for name, a in cases.items()}
with open("svd_numpy.json", "w") as f:
    json.dump(out, f)
