"""The file sink passes the sink contract."""

from __future__ import annotations

import pytest

from kete_core.testing import SinkContract


class TestFileSink(SinkContract):
    kind = "file"

    @pytest.fixture
    def sink_settings(self, tmp_path):
        return {"path": f"{tmp_path}/out/${{realmLowerCase}}/${{eventTypeKebabCase}}.jsonl"}

    @pytest.fixture
    def read_back(self, tmp_path):
        def read():
            files = sorted((tmp_path / "out").rglob("*.jsonl"), key=lambda path: path.stat().st_mtime_ns)
            return [line for path in files for line in path.read_bytes().splitlines()]

        return read
