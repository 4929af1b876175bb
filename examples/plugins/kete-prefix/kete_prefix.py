"""``prefix:LOGIN,CLIENT_``: the value starts with one of the comma-separated prefixes."""

from kete_core import Matcher


class PrefixMatcher(Matcher):
    def __init__(self, pattern: str) -> None:
        super().__init__(pattern)
        self.prefixes = tuple(p.strip().casefold() for p in pattern.split(",") if p.strip())
        if not self.prefixes:
            raise ValueError("no prefixes given")

    def matches(self, value: str) -> bool:
        return value.casefold().startswith(self.prefixes)
