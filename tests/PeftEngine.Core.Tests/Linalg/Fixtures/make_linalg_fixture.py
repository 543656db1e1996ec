"""Writes linalg_numpy.json: inputs and reference results from NumPy (and torch for the matrix exponential).

Run with Debian's interpreter: /usr/bin/python3 make_linalg_fixture.py
Only sign-free quantities are stored (singular values, eigenvalues, determinants, solutions, transforms).
"""
import json
import os

import numpy as np
import torch

rng = np.random.default_rng(20261128)


def mat(*shape):
    return rng.uniform(-1, 1, size=shape)


out = {}
a = mat(6, 4)
out["svd_input"] = a.tolist()
out["svd_values"] = np.linalg.svd(a, compute_uv=False).tolist()

wide = mat(3, 7)
out["svd_wide_input"] = wide.tolist()
out["svd_wide_values"] = np.linalg.svd(wide, compute_uv=False).tolist()

# an ill-conditioned matrix: singular values spread over 10 orders of magnitude
u, _ = np.linalg.qr(mat(8, 5))
v, _ = np.linalg.qr(mat(5, 5))
ill = u @ np.diag([1e2, 1.0, 1e-3, 1e-6, 1e-8]) @ v.T
out["svd_ill_input"] = ill.tolist()
out["svd_ill_values"] = np.linalg.svd(ill, compute_uv=False).tolist()

g = mat(5, 5)
sym = g + g.T
out["eigh_input"] = sym.tolist()
out["eigh_values"] = np.linalg.eigvalsh(sym).tolist()

sq = mat(5, 5) + 2 * np.eye(5)
b = mat(5, 2)
out["square_input"] = sq.tolist()
out["rhs"] = b.tolist()
out["solve"] = np.linalg.solve(sq, b).tolist()
out["inverse"] = np.linalg.inv(sq).tolist()
sign, logabs = np.linalg.slogdet(sq)
out["slogdet"] = [float(sign), float(logabs)]
out["det"] = float(np.linalg.det(sq))

spd = g @ g.T + np.eye(5)
out["spd_input"] = spd.tolist()
out["cholesky"] = np.linalg.cholesky(spd).tolist()

out["pinv_input"] = a.tolist()
out["pinv"] = np.linalg.pinv(a).tolist()

e = mat(4, 4) * 2
out["expm_input"] = e.tolist()
out["expm"] = torch.linalg.matrix_exp(torch.from_numpy(e)).numpy().tolist()

for n in (12, 16):
    z = mat(n, 2)
    zc = z[:, 0] + 1j * z[:, 1]
    f = np.fft.fft(zc)
    out[f"fft{n}_input"] = z.tolist()
    out[f"fft{n}"] = np.stack([f.real, f.imag], -1).tolist()

r = mat(10)
rf = np.fft.rfft(r)
out["rfft_input"] = r.tolist()
out["rfft"] = np.stack([rf.real, rf.imag], -1).tolist()

z2 = mat(3, 5, 2)
f2 = np.fft.ifft2(z2[..., 0] + 1j * z2[..., 1])
out["ifft2_input"] = z2.tolist()
out["ifft2"] = np.stack([f2.real, f2.imag], -1).tolist()

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "linalg_numpy.json"), "w") as fh:
    json.dump(out, fh, indent=1)
