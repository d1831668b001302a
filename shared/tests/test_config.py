from __future__ import annotations

import pytest

from authgate_shared.config import ConfigError, EnvReader, parse_base_url


def test_reader_collects_every_problem() -> None:
    env = EnvReader({"A": "x", "B": "7", "C": "maybe", "D": " "})
    assert env.integer("A", 1) == 1
    assert env.integer("B", 1, maximum=5) == 1
    assert env.flag("C", False) is False
    assert env.required("D") == ""
    with pytest.raises(ConfigError) as info:
        env.check()
    assert [p.split()[0] for p in info.value.problems] == ["A", "B", "C", "D"]


def test_items_trim_and_drop_empty() -> None:
    assert EnvReader({"L": " a, ,b ,"}).items("L") == ("a", "b")
    assert EnvReader({}).items("L", ("d",)) == ("d",)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://Auth.Example.com/", "https://auth.example.com"),
        ("HTTP://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("https://example.com/base/", "https://example.com/base"),
    ],
)
def test_base_url_normalisation(raw: str, expected: str) -> None:
    assert parse_base_url(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["ftp://x", "https://", "https://u:p@x", "https://x/?q=1", "https://x/#f", "https://x:99999"],
)
def test_base_url_rejections(raw: str) -> None:
    with pytest.raises(ValueError, match=r"must|port"):
        parse_base_url(raw)
