"""Nothing in the package can run code stored in a file: no pickle (or its relatives), no
torch.load, no eval/exec, models only from safetensors and never with remote code."""

from __future__ import annotations

import ast
import io
import re
import tokenize

import pytest

from tests.helpers import REPO

PACKAGE = REPO / "src" / "stepstone"
SOURCES = sorted(PACKAGE.rglob("*.py"))
#: Anywhere in the package's source, comments and strings included.
FORBIDDEN = [r"pickle", r"torch\.load", r"allow_pickle", r"joblib", r"\bdill\b", r"\bmarshal\b",
             r"\bshelve\b", r"weights_only\s*=\s*False", r"trust_remote_code\s*=\s*True",
             r"yaml\.load\(", r"yaml\.unsafe_load"]


def test_the_package_has_sources_to_check():
    assert len(SOURCES) > 30 and PACKAGE / "esm" / "io.py" in SOURCES


@pytest.mark.parametrize("pattern", FORBIDDEN)
def test_nothing_that_unpickles_or_runs_stored_code(pattern):
    hits = [f"{path.relative_to(REPO)}:{number}: {line.strip()}"
            for path in SOURCES
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if re.search(pattern, line, flags=re.IGNORECASE)]
    assert hits == []


def test_no_eval_or_exec():
    calls = []
    for path in SOURCES:
        tokens = list(tokenize.generate_tokens(io.StringIO(path.read_text()).readline))
        for before, token, after in zip(tokens, tokens[1:], tokens[2:]):
            if token.type == tokenize.NAME and token.string in ("eval", "exec", "compile") \
                    and after.string == "(" and before.string != ".":
                calls.append(f"{path.relative_to(REPO)}:{token.start[0]}")
    assert calls == []


def test_models_are_loaded_from_safetensors_only():
    """Every ``Auto*Model*.from_pretrained`` call passes ``use_safetensors=True`` (transformers
    would otherwise fall back to .bin checkpoints, which are unpickled)."""
    calls = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "from_pretrained" \
                    and "Model" in ast.unparse(node.func.value):
                safe = any(k.arg == "use_safetensors" and ast.unparse(k.value) == "True"
                           for k in node.keywords)
                calls.append((f"{path.relative_to(REPO)}:{node.lineno}", safe))
    assert calls and all(safe for _, safe in calls), calls


def test_a_pickled_checkpoint_is_refused_without_running_it(tmp_path):
    from stepstone.encode import load_base_model
    from stepstone.errors import ModelLoadError

    marker = tmp_path / "ran"
    (tmp_path / "config.json").write_text('{"model_type": "bert", "hidden_size": 8}')
    (tmp_path / "pytorch_model.bin").write_bytes(f"cos\nsystem\n(S'touch {marker}'\ntR.".encode())
    with pytest.raises(ModelLoadError, match="safetensors"):
        load_base_model(str(tmp_path))
    assert not marker.exists()
