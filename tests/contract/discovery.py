"""Finds the ports and their implementations and compares their signatures."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import ports

IMPLEMENTATION_PACKAGES = ("fakes", "hydra.adapters")
EXTRA_MODULES = ("hydra.clock",)


def is_protocol(cls: type) -> bool:
    return bool(getattr(cls, "_is_protocol", False))


def discover_ports() -> dict[str, type]:
    found = {}
    for name in ports.__all__:
        obj = getattr(ports, name)
        if isinstance(obj, type) and is_protocol(obj):
            found[name] = obj
    return found


def port_methods(port: type) -> dict[str, Callable[..., Any]]:
    return {
        name: fn
        for name, fn in vars(port).items()
        if inspect.isfunction(fn) and not name.startswith("_")
    }


def _modules() -> Iterator[ModuleType]:
    for package_name in IMPLEMENTATION_PACKAGES:
        package = importlib.import_module(package_name)
        yield package
        for info in pkgutil.walk_packages(package.__path__, f"{package_name}."):
            yield importlib.import_module(info.name)
    for name in EXTRA_MODULES:
        yield importlib.import_module(name)


def discover_implementations() -> list[tuple[type, type]]:
    """``(port, implementation)`` pairs, sorted for stable test ids."""
    all_ports = discover_ports().values()
    pairs: set[tuple[type, type]] = set()
    for module in _modules():
        for obj in vars(module).values():
            if not isinstance(obj, type) or obj.__module__ != module.__name__:
                continue
            if is_protocol(obj) or inspect.isabstract(obj):
                continue
            pairs.update((port, obj) for port in all_ports if port in obj.__mro__)
    return sorted(pairs, key=lambda p: (p[0].__name__, p[1].__module__, p[1].__qualname__))


def signature_problems(port_fn: Callable[..., Any], impl_fn: Callable[..., Any]) -> list[str]:
    """Why ``impl_fn`` cannot stand in for ``port_fn`` (empty when it can)."""
    problems = []
    if inspect.iscoroutinefunction(port_fn) != inspect.iscoroutinefunction(impl_fn):
        problems.append("async-ness differs")
    want = list(inspect.signature(port_fn).parameters.values())[1:]
    have = {p.name: p for p in list(inspect.signature(impl_fn).parameters.values())[1:]}
    for param in want:
        got = have.pop(param.name, None)
        if got is None:
            problems.append(f"parameter {param.name!r} is missing")
            continue
        if got.kind != param.kind:
            problems.append(
                f"{param.name!r} is {got.kind.description}, not {param.kind.description}"
            )
        if (got.default is got.empty) != (param.default is param.empty):
            problems.append(f"{param.name!r}: default presence differs")
        elif got.default != param.default:
            problems.append(f"{param.name!r}: default {got.default!r} != {param.default!r}")
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    impl_params = list(inspect.signature(impl_fn).parameters.values())[1:]
    if [p.name for p in want if p.kind in positional] != [
        p.name for p in impl_params if p.kind in positional
    ]:
        problems.append("positional parameters differ in order")
    for extra in have.values():
        if extra.kind != extra.KEYWORD_ONLY or extra.default is extra.empty:
            problems.append(f"extra parameter {extra.name!r} must be keyword-only with a default")
    return problems


def defining_class(cls: type, name: str) -> type:
    return next(k for k in cls.__mro__ if name in vars(k))
