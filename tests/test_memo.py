"""The bounded memo behind routing decisions and rendered templates."""

from __future__ import annotations

from kete_core import memo
from kete_core.memo import Memo


def test_a_memo_computes_each_key_once_and_starts_over_when_full(monkeypatch):
    computed: list[str] = []

    def upper(key: str) -> str:
        computed.append(key)
        return key.upper()

    monkeypatch.setattr(memo, "LIMIT", 3)
    memo_ = Memo(upper)
    assert list(map(memo_.__getitem__, ["a", "b", "a", "c", "b"])) == ["A", "B", "A", "C", "B"]
    assert computed == ["a", "b", "c"]
    assert memo_["d"] == "D" and dict(memo_) == {"d": "D"}, "full: cleared before adding"
    assert memo_.get("e") is None and "e" not in memo_, "only lookups by [] compute"
