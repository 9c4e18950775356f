"""YAML files into typed dataclasses.

Only the command line and scripts call this; library classes take plain typed
arguments. Unknown keys and wrong types raise :class:`ConfigError` whose message is
one line naming the file and the dotted key, e.g.
``configs/cae.yaml: model.latent_dim: expected int, got str 'big'``.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

from morphsynth.core.errors import MorphsynthError

T = TypeVar("T")


class ConfigError(MorphsynthError, ValueError):
    """A config file or value that cannot be used; the message is one line."""


def load_config(path: str | Path, cls: type[T]) -> T:
    """Read ``path`` with ``yaml.safe_load`` into dataclass ``cls`` (missing keys keep defaults)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None
    if data is None:
        data = {}
    return from_dict(cls, data, source=str(path))


def from_dict(cls: type[T], data: Any, source: str = "<config>", prefix: str = "") -> T:
    """Build dataclass ``cls`` from a mapping, checking every key and type."""
    if not isinstance(data, dict):
        where = prefix.rstrip(".") or "top level"
        raise ConfigError(f"{source}: {where}: expected a mapping, got {_describe(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"{source}: unknown key '{dotted}' (known: {known})")
        kwargs[key] = _coerce(hints[key], value, source, dotted)
    try:
        obj = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {prefix.rstrip('.') or 'top level'}: {exc}") from None
    check = getattr(obj, "validate", None)
    if callable(check):
        try:
            check()
        except ValueError as exc:
            raise ConfigError(f"{source}: {prefix}{exc}") from None
    return obj


def to_dict(obj: Any) -> Any:
    """A dataclass (possibly nested) as plain YAML/JSON-able values."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"


def _coerce(tp: Any, value: Any, source: str, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, source, key)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0] if len(errors) == 1 else ConfigError(
            f"{source}: {key}: expected {_type_name(tp)}, got {_describe(value)}")
    if origin is Literal:
        if value in args:
            return value
        choices = ", ".join(repr(a) for a in args)
        raise ConfigError(f"{source}: {key}: expected one of {choices}, got {_describe(value)}")
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, source, prefix=f"{key}.")
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise ConfigError(f"{source}: {key}: expected a list, got {_describe(value)}")
        item = args[0] if args else Any
        out = [_coerce(item, v, source, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: {key}: expected a mapping, got {_describe(value)}")
        kt, vt = args if args else (Any, Any)
        return {_coerce(kt, k, source, f"{key}"): _coerce(vt, v, source, f"{key}.{k}")
                for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = float(value)
            if math.isnan(value):
                raise ConfigError(f"{source}: {key}: expected a number, got NaN")
            return value
    elif tp is str:
        if isinstance(value, str):
            return value
    else:
        raise ConfigError(f"{source}: {key}: unsupported config type {_type_name(tp)}")
    raise ConfigError(f"{source}: {key}: expected {_type_name(tp)}, got {_describe(value)}")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")
