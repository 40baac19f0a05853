"""ESM-LogME with torch: batched float64 products and eigen-solves, on a GPU when there is one.

The same Gram identity as the CPU paths (G' = (RA)ᵀ(RA), Z' = AᵀZ), with a batched eigh
(cuSOLVER on CUDA) instead of per-ESM LAPACK calls. Eigenvalues and projections come back to
the host, where the fixed point runs exactly as in :func:`stepstone.scores.esm_logme`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .reference import TargetStats, spectral_esm_logme


class TorchESMLogME:
    """Scores blocks of ESMs for one target on ``device`` (float64 throughout).

    Args:
        stats: the target's statistics (its factor and cross products are copied to the device).
        device: a torch device ("cuda", "cuda:1", "cpu").
        batch_size: ESMs per batched eigen-solve; bounds device memory (about 5 MB per ESM at
            D = 384 for the maps, Grams and eigenvectors).
    """

    def __init__(self, stats: TargetStats, *, device: Any = "cuda", batch_size: int = 512) -> None:
        import torch

        self.stats = stats
        self.device = torch.device(device)
        self.batch_size = batch_size
        self._factor = torch.as_tensor(np.ascontiguousarray(stats.factor),
                                       dtype=torch.float64, device=self.device)
        self._cross = torch.as_tensor(stats.cross, dtype=torch.float64, device=self.device)

    def __call__(self, maps: Any) -> np.ndarray:
        """Shapes: maps (B, D+1, D') in any float dtype, a numpy array or a torch tensor (on any
        device) -> scores (B,)."""
        return np.concatenate([self._batch(maps[i:i + self.batch_size])
                               for i in range(0, len(maps), self.batch_size)] or [np.zeros(0)])

    def _batch(self, maps: Any) -> np.ndarray:
        import torch

        with torch.inference_mode():
            if isinstance(maps, np.ndarray):
                maps = torch.from_numpy(np.ascontiguousarray(maps))
            # copy in the stored precision (half the bytes for float16 maps), widen on device
            a = maps.to(self.device).to(torch.float64)
            m = torch.matmul(self._factor, a)  # (B, D+1, D')
            gram = torch.matmul(m.transpose(1, 2), m)
            cross = torch.matmul(a.transpose(1, 2), self._cross)  # (B, D', K)
            sigma, vecs = torch.linalg.eigh(gram)
            proj = torch.matmul(vecs.transpose(1, 2), cross)
            sigma, proj = sigma.cpu().numpy(), proj.cpu().numpy()
        return spectral_esm_logme(sigma, proj, self.stats)
