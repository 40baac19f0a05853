"""The ESM: a linear map  x -> W x + b  on base-model sentence embeddings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import ESMConfig


@dataclass(eq=False)
class ESM:
    """A linear Embedding Space Map with its metadata.

    ``weight`` has shape (D_out, D_in) like ``torch.nn.Linear.weight``; ``bias`` (D_out,).
    """

    weight: np.ndarray
    bias: np.ndarray
    config: ESMConfig

    @property
    def dim(self) -> int:
        return int(self.weight.shape[1])

    @property
    def name(self) -> str:
        return self.config.task_name

    def __call__(self, embeddings: np.ndarray) -> np.ndarray:
        """Map embeddings: (N, D_in) -> (N, D_out), in float64 unless given float32."""
        dtype = np.float32 if np.asarray(embeddings).dtype == np.float32 else np.float64
        return np.asarray(embeddings, dtype) @ self.weight.astype(dtype).T + self.bias.astype(dtype)

    def augmented(self) -> np.ndarray:
        """A = [Wᵀ; bᵀ] of shape (D_in + 1, D_out), float64, so that ESM(x) = [x, 1] @ A."""
        return np.vstack([self.weight.T, self.bias[None, :]]).astype(np.float64)

    def __repr__(self) -> str:
        return f"ESM({self.name!r}, base={self.config.base_model_name!r}, dim={self.dim})"
