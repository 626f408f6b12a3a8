"""Typed configs read from YAML: one reader for recipes and hardness configs.

A config is a dataclass whose type hints are the schema and whose ``__post_init__`` checks its values
(:func:`check_fields`). :func:`load_yaml` reads a file (UTF-8, a key given twice is refused) and
:func:`build` turns a mapping into the dataclass: an unknown key, a value of the wrong type or one the
config refuses is a one-line :class:`InputError` naming the file and the dotted key.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from ecmiip.core.errors import InputError

T = TypeVar("T")

_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


class FieldError(InputError):
    """A value its config refuses: ``key = value must be what``. :func:`build` prefixes file and section."""

    def __init__(self, field: str, value: object, what: str) -> None:
        self.field, self.value, self.what = field, value, what
        super().__init__(f"{field} = {value!r} must be {what}")


Rule = tuple[str, Callable[[Any], bool], str]  # (field, test, what it must be)


def check_fields(config: object, rules: Iterable[Rule]) -> None:
    """Raise :class:`FieldError` for the first field whose value fails its test (a config's ``__post_init__``)."""
    for name, ok, what in rules:
        value = getattr(config, name)
        if not ok(value):
            raise FieldError(name, value, what)


def type_name(hint: object) -> str:
    """``int``, ``list``, ``one of product, min``: how an error message names a type hint."""
    if typing.get_origin(hint) is typing.Literal:
        return "one of " + ", ".join(map(str, typing.get_args(hint)))
    if typing.get_origin(hint) in (list, tuple, Sequence) or hint in (list, tuple):
        return "list"  # what YAML writes
    return getattr(hint, "__name__", str(hint))


def _matches(value: object, hint: object) -> bool:
    origin = typing.get_origin(hint)
    if hint is typing.Any:
        return True
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, h) for h in typing.get_args(hint))
    if origin in (list, tuple, Sequence) or hint in (list, tuple):
        args = typing.get_args(hint)
        if not isinstance(value, list | tuple):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:  # a fixed length: tuple[float, float]
            return len(value) == len(args) and all(_matches(v, h) for v, h in zip(value, args, strict=True))
        return not args or all(_matches(v, args[0]) for v in value)
    if origin in (dict, Mapping) or hint is dict:
        args = typing.get_args(hint)
        if not isinstance(value, dict):
            return False
        return not args or all(_matches(k, args[0]) and _matches(v, args[1]) for k, v in value.items())
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is type(None):
        return value is None
    return isinstance(value, hint)  # type: ignore[arg-type]


def _convert(value: object, hint: object) -> object:
    """The YAML value in the hint's Python shape: a float for float, a tuple for tuple (a list in YAML)."""
    if hint is float:
        return float(value)  # type: ignore[arg-type]
    if typing.get_origin(hint) is tuple or hint is tuple:
        return tuple(value)  # type: ignore[call-overload]
    return value


def build(
    cls: type[T], raw: object, source: Path | str, *, where: str = "", what: str = "the file", skip: tuple[str, ...] = ()
) -> T:
    """The dataclass ``cls`` from a YAML mapping; every refusal names ``source`` and the dotted key.

    ``where`` is the section's dotted key ("" at the top), ``what`` names the top in messages ("the
    recipe"); ``skip`` lists fields that YAML may not set. A nested dataclass is built from its own mapping.
    """
    if not isinstance(raw, dict):
        raise InputError(f"{source}: {where or what} must be a mapping, not {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init and f.name not in skip}  # type: ignore[arg-type]
    unknown = sorted(set(raw) - names, key=str)
    if unknown:
        raise InputError(f"{source}: unknown key {where + '.' if where else ''}{unknown[0]} (known: {', '.join(sorted(names))})")
    values = {}
    for name, value in raw.items():
        hint, key = hints[name], f"{where}.{name}" if where else name
        if hint is float and isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
            value = float(value)  # YAML 1.1 reads 1e-4 (no dot) as a string; it is meant as a number
        if dataclasses.is_dataclass(hint):
            values[name] = build(hint, value, source, where=key)  # type: ignore[arg-type]
        elif not _matches(value, hint):
            verb = "must be" if typing.get_origin(hint) is typing.Literal else "is not a"
            raise InputError(f"{source}: {key} = {value!r} {verb} {type_name(hint)}")
        else:
            values[name] = _convert(value, hint)
    try:
        return cls(**values)
    except FieldError as e:
        raise InputError(f"{source}: {where + '.' if where else ''}{e.field} = {e.value!r} must be {e.what}") from None
    except InputError as e:
        raise InputError(f"{source}: {where + ': ' if where else ''}{e}") from None
    except TypeError as e:  # a required key is missing
        raise InputError(f"{source}: {where or what}: {e}") from e


def load_yaml(path: Path, *, what: str = "file") -> object:
    """The YAML document in ``path`` (``None`` when empty): UTF-8 text, safe tags only, no key given twice.

    ``what`` names the document in the messages ("recipe", "hardness config").
    """
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {what} {path}: {e.strerror or e}") from e
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: not UTF-8 text ({e.reason}); save the {what} as UTF-8") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 — a SafeLoader subclass
    except yaml.YAMLError as e:
        raise InputError(f"{path}: not valid YAML ({' '.join(str(e).split())})") from None
    except RecursionError:
        raise InputError(f"{path}: nested too deeply to be a {what}") from None
    except _DuplicateKey as e:
        raise InputError(f"{path}: {e}") from None


class _DuplicateKey(Exception):
    pass


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (YAML keeps the last one silently)."""


def _unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise _DuplicateKey(f"line {key_node.start_mark.line + 1}: key {key!r} is given twice "
                                f"(first on line {seen[key]}); keep one")
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)
