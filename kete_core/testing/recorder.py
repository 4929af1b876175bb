"""A hook plugin that records every kete hook call, for asserting on what kete called and in which order."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kete_core import hookspecs
from kete_core.markers import hookimpl


@dataclass(frozen=True)
class HookCall:
    """One hook call: the hook's name without the ``kete_`` prefix, and its arguments by name."""

    name: str
    kwargs: dict[str, Any]

    def __getattr__(self, argument: str) -> Any:
        try:
            return self.kwargs[argument]
        except KeyError:
            raise AttributeError(argument) from None


class HookRecorder:
    """Implements every hook of :mod:`kete_core.hookspecs` by recording the call and returning
    None, so it changes nothing kete does (a ``firstresult`` hook gets no answer from it).

    Register it when loading an application: ``app = load_app(path, plugins=[recorder])``; then
    ``recorder.names()`` is the order of the calls, ``recorder.calls_of("after_emit")`` their
    arguments.
    """

    def __init__(self) -> None:
        self.calls: list[HookCall] = []
        for name, spec in inspect.getmembers(hookspecs, inspect.isfunction):
            if name.startswith("kete_"):
                setattr(self, name, self._recording(name, spec))

    def _recording(self, name: str, spec: Callable[..., Any]) -> Callable[..., None]:
        argnames = list(inspect.signature(spec).parameters)
        short = name.removeprefix("kete_")

        def record(*args: Any) -> None:
            self.calls.append(HookCall(short, dict(zip(argnames, args, strict=True))))

        # pluggy reads the argument names through __wrapped__, so each recorder takes exactly the
        # arguments of its spec.
        record.__wrapped__ = spec  # type: ignore[attr-defined]
        record.__name__ = name
        return hookimpl(record)

    def names(self) -> list[str]:
        """The names of the hooks called, in order (``"configure"``, ``"startup"``, …)."""
        return [call.name for call in self.calls]

    def calls_of(self, name: str) -> list[HookCall]:
        """The calls of hook *name* (with or without the ``kete_`` prefix), in order."""
        short = name.removeprefix("kete_")
        return [call for call in self.calls if call.name == short]

    def clear(self) -> None:
        """Forget the calls recorded so far."""
        self.calls.clear()


__all__ = ["HookCall", "HookRecorder"]
