"""A wrong column name on a wide table: the error names the first few columns, a count and the
closest name, in one short line."""

from __future__ import annotations

import pandas as pd
import pytest

from stepstone.data.frames import task_from_frame
from stepstone.data.task import TaskOrigin
from stepstone.errors import ColumnNotFoundError


def wide_frame() -> pd.DataFrame:
    columns = {f"feature_{i:03d}": [0.0, 1.0] for i in range(300)}
    return pd.DataFrame({"sentence": ["a b", "c d"], "label": [0, 1], **columns})


def test_a_mistyped_column_gets_a_short_list_and_a_suggestion():
    with pytest.raises(ColumnNotFoundError) as err:
        task_from_frame(wide_frame(), name="t", where="t.csv", origin=TaskOrigin(),
                        text_column="sentense")
    message = str(err.value)
    assert "'sentence', 'label'" in message and "(302 in all)" in message
    assert "Did you mean 'sentence'?" in message
    assert "feature_299" not in message and len(message) < 400


def test_an_unguessable_column_gets_the_short_list_too():
    frame = wide_frame().drop(columns=["sentence"])
    with pytest.raises(ColumnNotFoundError, match=r"\(301 in all\)"):
        task_from_frame(frame, name="t", where="t.csv", origin=TaskOrigin())
