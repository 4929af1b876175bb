import sqlite3

import pytest

from kete_core.testing import SinkContract


class TestSqliteSink(SinkContract):
    kind = "sqlite"

    @pytest.fixture
    def sink_settings(self, tmp_path):
        return {"path": str(tmp_path / "audit.db")}

    @pytest.fixture
    def read_back(self, tmp_path):
        def read():
            db = sqlite3.connect(tmp_path / "audit.db")
            try:
                return [row[0] for row in db.execute("SELECT payload FROM events ORDER BY rowid")]
            finally:
                db.close()

        return read

    @pytest.fixture
    def unreachable_settings(self, tmp_path):
        return {"path": str(tmp_path / "no-such-folder" / "audit.db")}
