"""``[kete] log-level`` sets kete's own loggers; client libraries' loggers pass only warnings below debug."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from kete_core.cli import _setup_logging


@pytest.fixture
def logged(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    root = logging.getLogger()
    saved = root.level, root.handlers[:], logging.getLogger("kete").level
    try:
        yield capsys
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
        logging.getLogger("kete").setLevel(saved[2])


def lines_after_logging(capsys: pytest.CaptureFixture[str]) -> str:
    logging.getLogger("kete.azure").info("kete info")
    logging.getLogger("kete.azure").debug("kete debug")
    logging.getLogger("azure.eventhub._pyamqp").info("library info")
    logging.getLogger("azure.eventhub._pyamqp").warning("library warning")
    return capsys.readouterr().err


def test_info_keeps_library_chatter_out(logged: pytest.CaptureFixture[str]) -> None:
    _setup_logging("info")
    err = lines_after_logging(logged)
    assert "kete info" in err and "library warning" in err
    assert "library info" not in err and "kete debug" not in err


def test_debug_lets_everything_through(logged: pytest.CaptureFixture[str]) -> None:
    _setup_logging("debug")
    err = lines_after_logging(logged)
    assert all(text in err for text in ("kete info", "kete debug", "library info", "library warning"))


def test_error_silences_warnings_of_both(logged: pytest.CaptureFixture[str]) -> None:
    _setup_logging("error")
    assert lines_after_logging(logged) == ""
