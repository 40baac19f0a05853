"""Embedding Space Maps: the linear map, its fitting, and hfselect-compatible files."""

from .config import FORMAT_VERSION, ESMConfig
from .fit import FitMethod, SGDConfig, fit_linear, fit_linear_sgd, fit_quality
from .io import CONFIG_FILE, WEIGHTS_FILE, load_esm, read_config, read_weights, save_esm
from .model import ESM

__all__ = ["CONFIG_FILE", "ESM", "ESMConfig", "FORMAT_VERSION", "FitMethod", "SGDConfig",
           "WEIGHTS_FILE", "fit_linear", "fit_linear_sgd", "fit_quality", "load_esm",
           "read_config", "read_weights", "save_esm"]
