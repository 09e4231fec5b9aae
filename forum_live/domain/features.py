"""The feature set of one app: which client frames exist, who decides them, how entries
fold, what the ready state holds, which clocks run and what joining adds.

Capability modules *declare* their parts with the decorators below: a declaration is kept
in the declaring module's own list `__forum_features__` (the module of the function or
class), nothing more; `Features.install(module)` collects a module's declarations into
one `Features` object. `create_app` builds its own, so two apps in one process may carry
different feature sets, and nothing is registered process-wide at import time.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, TypeVar

if TYPE_CHECKING:
    from .clock import Clock
    from .commands import Command
    from .context import Context
    from .entries import Entry
    from .model import EventState, Participant

MARK = "__forum_features__"
T = TypeVar("T")

# The capabilities of the domain, in the order their parts are installed.
DOMAIN_MODULES = ("commands", "model", "chat", "setup", "decide", "breakouts", "polls",
                  "minutes", "media", "mic", "lobby", "floor", "qa", "reactions", "timers",
                  "slides", "review", "series", "agenda", "planning")

Decider = Callable[["EventState", "Context", "Participant", Any], "list[Entry]"]
Applier = Callable[["EventState", "Entry"], None]
StatePart = Callable[["EventState", str], Any]
OnOnline = Callable[["EventState", "Context", str], "list[Entry]"]


def declare(obj: T, *what: Any) -> T:
    """Declare that `obj` contributes `what` (e.g. ("decider", ChatSend)) to a feature set,
    in the list of the module that defines `obj`."""
    module = sys.modules[obj.__module__]
    vars(module).setdefault(MARK, []).append((what, obj))
    return obj


def state_part(name: str) -> Callable[[StatePart], StatePart]:
    """A part of the ready state, under `name`."""
    def deco(fn: StatePart) -> StatePart:
        return declare(fn, "state_part", name)
    return deco


def on_online(fn: OnOnline) -> OnOnline:
    """What coming online adds to the presence entry (e.g. a breakout seat)."""
    return declare(fn, "on_online")


def handler(model: type[Command]) -> Callable[[T], T]:
    """A socket query answered outside the journal (ping, state.sync, media signaling):
    (runtime, connection, command) -> the fields of the ok reply."""
    def deco(fn: T) -> T:
        return declare(fn, "handler", model)
    return deco


def _type_of(model: type[Command]) -> str:
    return str(model.model_fields["type"].annotation.__args__[0])  # type: ignore[union-attr]


@dataclass
class Features:
    commands: dict[str, type[Command]] = field(default_factory=dict)
    deciders: dict[type[Command], Decider] = field(default_factory=dict)
    appliers: dict[str, Applier] = field(default_factory=dict)
    state_parts: dict[str, StatePart] = field(default_factory=dict)
    clocks: list[Clock] = field(default_factory=list)
    on_online: list[OnOnline] = field(default_factory=list)
    handlers: dict[type[Command], Any] = field(default_factory=dict)  # socket queries

    def install(self, module: ModuleType) -> "Features":
        """Collect the parts `module` declares (its own, not what it imported)."""
        from .clock import Clock
        for what, obj in vars(module).get(MARK, ()):
            self._add(obj, what)
        for obj in list(vars(module).values()):
            if isinstance(obj, Clock) and obj not in self.clocks:
                self.clocks.append(obj)
        return self

    def _add(self, obj: Any, what: tuple[Any, ...]) -> None:
        kind = what[0]
        if kind == "command":
            self.commands[_type_of(obj)] = obj
        elif kind == "decider":
            self.deciders[what[1]] = obj
        elif kind == "apply":
            self.appliers[what[1]] = obj
        elif kind == "state_part":
            self.state_parts[what[1]] = obj
        elif kind == "on_online":
            self.on_online.append(obj)
        elif kind == "handler":
            self.handlers[what[1]] = obj
        else:
            raise ValueError(f"unknown feature part {kind!r}")


def domain_features() -> Features:
    """A fresh feature set with every capability of the domain."""
    f = Features()
    for name in DOMAIN_MODULES:
        f.install(importlib.import_module(f"{__package__}.{name}"))
    return f
