"""Old import paths of modules that moved (issue 22: folders by stage).

``import stepstone.hub.build`` still works and gives the module at its new place
(``stepstone.build.pipeline``), with a DeprecationWarning; no file is left at the old path, so
the move is a plain rename in git. The finder is installed by ``stepstone/__init__.py``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from types import ModuleType

#: old module path -> new module path
MOVED: dict[str, str] = {
    "stepstone.hub.build": "stepstone.build.pipeline",
    "stepstone.hub.source_esm": "stepstone.build.source_esm",
    "stepstone.hub.domain": "stepstone.build.domain_stats",
    "stepstone.scores.engine": "stepstone.scores.esm_logme.scorer",
    "stepstone.scores.esm_logme_fast": "stepstone.scores.esm_logme.fast",
    "stepstone.scores.esm_logme_torch": "stepstone.scores.esm_logme.torch_route",
    "stepstone.scores.tridiagonal": "stepstone.scores.esm_logme.tridiagonal",
    "stepstone.scores._lapack": "stepstone.scores.esm_logme._lapack",
    "stepstone.scores._blas": "stepstone.scores.esm_logme._blas",
    "stepstone.rank.baselines": "stepstone.rank.methods.baselines",
    "stepstone.rank.esm_scores": "stepstone.rank.methods.esm_scores",
    "stepstone.rank.estimators": "stepstone.rank.methods.domain_stats",
    "stepstone.rank.fusion": "stepstone.rank.methods.fusion",
    "stepstone.rank.taskemb": "stepstone.rank.methods.taskemb",
    "stepstone.rank.transfer_graph": "stepstone.rank.methods.transfer_graph",
    "stepstone.rank.tuned": "stepstone.rank.methods.tuned",
    "stepstone.rank.plot": "stepstone.rank.render.plot",
    "stepstone.rank.html_report": "stepstone.rank.render.html_report",
    "stepstone.rank.table": "stepstone.rank.render.table",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers imports of :data:`MOVED` paths with the module at its new path."""

    def find_spec(self, fullname: str, path=None, target=None):
        return importlib.util.spec_from_loader(fullname, self) if fullname in MOVED else None

    def create_module(self, spec) -> ModuleType:
        warnings.warn(f"{spec.name} moved to {MOVED[spec.name]}; import it from there",
                      DeprecationWarning, stacklevel=2)
        # the new module itself (not a copy): its functions and globals are the same objects
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module was imported at its new path."""


def moved_attribute(package: str, name: str, where: dict[str, str]) -> object:
    """A package's ``__getattr__`` for names that moved to another package (with a warning)."""
    if name not in where:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    warnings.warn(f"{package}.{name} moved to {where[name]}; import it from there",
                  DeprecationWarning, stacklevel=3)
    return getattr(importlib.import_module(where[name]), name)


def install() -> None:
    if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
        sys.meta_path.append(_MovedModules())  # last: only paths no file answers
