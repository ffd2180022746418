"""Whatever the rules file holds, the loader answers with Rules or ConfigError, never a crash."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.loader import load_rules
from config.settings import DEFAULT_RULES
from domain.errors import ConfigError

SHIPPED: dict[str, Any] = yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.dates()
    | st.sampled_from(["Asia", "qa", "any", "n_of", "P1", "4h", "C0QA00001", "U0QA00001", "DONE"])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
yamlish = st.text(alphabet=st.sampled_from(list(":-[]{}&*!|>'\"#%@`,?\t\n ") + list("abcPU019")))


def outcome(text: str) -> str:
    """Load `text` as a rules file: "ok" or "problems", and anything else fails the test."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rules.yaml"
        (Path(folder) / "sops").mkdir()
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            load_rules(path)
        except ConfigError as exc:
            assert exc.problems, "a ConfigError must carry at least one problem"
            assert all(p.source == str(path) and p.message for p in exc.problems)
            return "problems"
        return "ok"


def mutate(data: Any, path: list[Any], value: Any, delete: bool) -> Any:
    """A deep copy of `data` with the node at `path` replaced by `value` (or deleted)."""
    data = copy.deepcopy(data)
    parent, key = None, None
    node = data
    for step in path:
        parent, key = node, step
        node = node[step]
    if parent is None:
        return value
    if delete:
        del parent[key]
    else:
        parent[key] = value
    return data


@st.composite
def paths(draw: st.DrawFn, data: Any) -> list[Any]:
    """A path from the root of `data` to one of its nodes."""
    path: list[Any] = []
    node = data
    while isinstance(node, dict | list) and node and draw(st.integers(0, 3)) > 0:
        step = draw(st.sampled_from(list(node) if isinstance(node, dict) else range(len(node))))
        path.append(step)
        node = node[step]
    return path


# derandomize: the same examples on every run, so CI is not flaky and failures reproduce.
fuzz = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


class TestHostileInput:
    @fuzz
    @given(st.text())
    def test_any_text(self, text: str) -> None:
        """Arbitrary text is rules or problems."""
        outcome(text)

    @fuzz
    @given(yamlish)
    def test_yaml_punctuation(self, text: str) -> None:
        """Text dense in YAML syntax characters is rules or problems."""
        outcome(text)

    @fuzz
    @given(values)
    def test_any_nested_data(self, data: Any) -> None:
        """Arbitrary nested data dumped to YAML is rules or problems."""
        outcome(yaml.safe_dump(data, allow_unicode=True))

    @fuzz
    @given(st.data(), values, st.booleans())
    def test_shipped_rules_with_one_part_changed(
        self, draw: st.DataObject, value: Any, delete: bool
    ) -> None:
        """Replacing or deleting any one part of valid rules still gives rules or problems."""
        path = draw.draw(paths(SHIPPED))
        outcome(yaml.safe_dump(mutate(SHIPPED, path, value, delete), allow_unicode=True))
