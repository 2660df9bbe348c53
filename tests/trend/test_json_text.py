"""The fast ``--json`` writer gives exactly the text of the CLI's generic one."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cytorelease.cli._output import to_jsonable
from cytorelease.trend import trend_from_csv
from cytorelease.trend.json_text import dumps

DATA = Path(__file__).parent / "data" / "history.csv"


def _generic(obj: Any) -> str:
    return json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False, allow_nan=False)


def test_a_report_is_written_as_the_generic_writer_writes_it() -> None:
    attributes = ("flow.viability_pct", "flow.car_pct_of_cd3")
    for by_site in (False, True):
        report = trend_from_csv(DATA, attributes, baseline=8, by_site=by_site).to_dict()
        assert dumps(report) == _generic(report)


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=6),
    st.sampled_from(["%s", '"', "\\", "\u2028", "é", "%(x)s"]),
)
_keys = st.one_of(st.text(max_size=4), st.sampled_from(["%", "%s", "a"]))
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(_keys, inner, max_size=4),
        # lists of dicts with the same keys: the fast row layout, gaps and odd values included
        st.lists(st.fixed_dictionaries({"lot": st.text(max_size=3), "v": _scalars}), max_size=5),
        st.lists(st.fixed_dictionaries({"%s": inner, "b": st.floats(allow_nan=True)}), max_size=3),
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(_values)
def test_any_value_is_written_as_the_generic_writer_writes_it(value: Any) -> None:
    assert dumps(value) == _generic(value)


def test_non_finite_floats_are_null_in_a_row_column() -> None:
    rows = [{"a": 1.5, "b": None}, {"a": math.inf, "b": 2.0}, {"a": math.nan, "b": None}]
    assert dumps({"rows": rows}) == _generic({"rows": rows})
    assert json.loads(dumps(rows))[1]["a"] is None
