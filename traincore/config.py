"""Typed run configs: frozen (nested) dataclasses loaded from TOML with dotted overrides.

    cfg = load_config(SelfPlayConfig, "configs/connect4.toml", ["train.lr=0.01", "search.num_simulations=50"])

A file may name a base file (`extends = "small.toml"`, relative to it) and hold only what differs; tables merge
key by key, other values replace the base's. Unknown keys and values of the wrong type are errors that name the key
and where it came from;
`save_config` writes the resolved config (as TOML) into the run folder.
"""
from __future__ import annotations

import dataclasses
import json
import os
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file or override that cannot be used; the message names the key and the source."""


def _field_types(cls) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _is_dataclass_type(tp) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _coerce(value: Any, tp: Any, key: str, source: str) -> Any:
    """Check/convert a TOML value to the annotated type (int -> float allowed, lists -> tuples)."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key, source)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(f"{source}: key '{key}': {value!r} does not match {tp}")
    if origin is typing.Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{source}: key '{key}': {value!r} is not one of {typing.get_args(tp)}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{source}: key '{key}': expected a list, got {type(value).__name__} {value!r}")
        args = typing.get_args(tp)
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            items = [_coerce(v, args[0], f"{key}[{i}]", source) for i, v in enumerate(value)]
        elif origin is tuple and args:
            if len(args) != len(value):
                raise ConfigError(f"{source}: key '{key}': expected {len(args)} items, got {len(value)}")
            items = [_coerce(v, a, f"{key}[{i}]", source) for i, (v, a) in enumerate(zip(value, args))]
        else:
            items = [_coerce(v, args[0], f"{key}[{i}]", source) if args else v for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: key '{key}': expected a table, got {value!r}")
        return dict(value)
    if _is_dataclass_type(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: key '{key}': expected a table, got {value!r}")
        return _build(tp, value, source, prefix=key + ".")
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: key '{key}': expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: key '{key}': expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: key '{key}': expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: key '{key}': expected a string, got {value!r}")
        return value
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"{source}: key '{key}': expected {tp.__name__}, got {value!r}")
    return value


def check_bounds(obj, **rules: str) -> None:
    """For a config dataclass's ``__post_init__``: raise ValueError naming the first field outside its bound.
    A rule is ``">=x"``, ``">x"`` or ``"[a,b]"`` (both ends included); a None value is not checked, NaN never
    passes."""
    for key, rule in rules.items():
        v = getattr(obj, key)
        if v is None:
            continue
        if rule.startswith("["):
            lo, hi = (float(x) for x in rule.strip("[]").split(","))
            ok, want = lo <= v <= hi, f"in {rule}"
        elif rule.startswith(">="):
            ok, want = v >= float(rule[2:]), f">= {rule[2:]}"
        elif rule.startswith(">"):
            ok, want = v > float(rule[1:]), f"> {rule[1:]}"
        else:
            raise ValueError(f"bound {rule!r} for {key}: expected '>=x', '>x' or '[a,b]'")
        if not ok:
            raise ValueError(f"{key}={v!r}: must be {want}")


def _build(cls, data: dict, source: str, prefix: str = ""):
    types_ = _field_types(cls)
    unknown = sorted(set(data) - set(types_))
    if unknown:
        raise ConfigError(f"{source}: unknown key '{prefix}{unknown[0]}' (known: {', '.join(sorted(types_))})")
    kwargs = {k: _coerce(v, types_[k], prefix + k, source) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as e:  # a required field is missing
        raise ConfigError(f"{source}: {prefix.rstrip('.') or cls.__name__}: {e}") from None
    except ValueError as e:  # __post_init__ validation
        raise ConfigError(f"{source}: {prefix.rstrip('.') or cls.__name__}: {e}") from None


def parse_override(text: str) -> tuple[list[str], Any]:
    """'train.lr=0.01' -> (['train', 'lr'], 0.01); the value is read as TOML, else as a bare string."""
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected KEY=VALUE, e.g. train.lr=0.01")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not p for p in key.split(".")):
        raise ConfigError(f"override {text!r}: empty key")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.split("."), value


def _merge_override(data: dict, path: list[str], value: Any, cls, text: str) -> None:
    node, tp = data, cls
    for i, part in enumerate(path):
        if not _is_dataclass_type(tp):
            raise ConfigError(f"override {text!r}: '{'.'.join(path[:i])}' is not a table")
        ftypes = _field_types(tp)
        if part not in ftypes:
            raise ConfigError(f"override {text!r}: unknown key '{'.'.join(path[:i + 1])}' "
                              f"(known: {', '.join(sorted(ftypes))})")
        if i == len(path) - 1:
            node[part] = value
        else:
            tp = ftypes[part]
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {text!r}: '{'.'.join(path[:i + 1])}' is not a table")


def _deep_merge(base: dict, top: dict) -> dict:
    """``top`` over ``base``: tables merge key by key, anything else (scalars, lists) is replaced."""
    out = dict(base)
    for k, v in top.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _chain_label(paths) -> str:
    """'top.toml (extends mid.toml (extends base.toml))': where a value came from, for error messages."""
    paths = tuple(paths)
    return " (extends ".join(str(p) for p in paths) + ")" * (len(paths) - 1)


def _read_toml(path: Path, chain: tuple[Path, ...]) -> tuple[dict, tuple[Path, ...]]:
    """The TOML table at ``path`` with its ``extends = "base.toml"`` (a path relative to the file) resolved: the
    base's table with this file's keys merged over it, recursively. Returns (table, files from ``path`` down)."""
    who = _chain_label((*chain, path))
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config {who}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"config {who}: is a folder, not a TOML file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config {who}: not valid TOML ({e})") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"config {who}: not valid TOML (not UTF-8 text: byte {e.start})") from None
    if not data:   # a 0-byte or comments-only file: a broken copy more often than a wish for every default
        raise ConfigError(f"config {who}: holds no settings (an empty file); leave the config out to use every "
                          "default")
    ext = data.pop("extends", None)
    if ext is None:
        return data, (path,)
    if not isinstance(ext, str) or not ext:
        raise ConfigError(f"config {who}: key 'extends': expected the path of a TOML file, got {ext!r}")
    base = path.parent / ext
    if any(base.resolve() == p.resolve() for p in (*chain, path)):
        raise ConfigError(f"config {who}: 'extends' loops back to {base}")
    base_data, base_chain = _read_toml(base, (*chain, path))
    return _deep_merge(base_data, data), (path, *base_chain)


def load_config(cls: type[T], path: str | os.PathLike | None = None, overrides: typing.Sequence[str] = ()) -> T:
    """Build `cls` from a TOML file (or defaults when path is None) plus dotted overrides. A file may start from
    another with ``extends = "base.toml"`` (relative to the file): its keys are merged over the base's."""
    data: dict = {}
    source = "defaults"
    if path is not None:
        data, chain = _read_toml(Path(path), ())
        source = _chain_label(chain)
    for text in overrides:
        key, value = parse_override(text)
        _merge_override(data, key, value, cls, text)
    if overrides:
        source += " + --set " + " ".join(overrides)
    return _build(cls, data, source)


def config_from_dict(cls: type[T], data: dict, source: str = "checkpoint") -> T:
    return _build(cls, data, source)


def config_to_dict(cfg) -> dict:
    """Plain nested dict (tuples as lists) - TOML and JSON serialisable, safe in checkpoints."""
    def conv(v):
        if dataclasses.is_dataclass(v):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        return v
    return conv(cfg)


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} as TOML")


def dumps_toml(data: dict) -> str:
    """Minimal TOML writer for config dicts (scalars, lists, nested tables; None values omitted)."""
    lines: list[str] = []

    def emit(table: dict, prefix: str):
        scalars = {k: v for k, v in table.items() if not isinstance(v, dict) and v is not None}
        tables = {k: v for k, v in table.items() if isinstance(v, dict)}
        if prefix and (scalars or not tables):
            lines.append(f"[{prefix}]")
        for k, v in scalars.items():
            lines.append(f"{k} = {_toml_value(v)}")
        if scalars:
            lines.append("")
        for k, v in tables.items():
            emit(v, f"{prefix}.{k}" if prefix else k)

    emit(data, "")
    return "\n".join(lines).rstrip() + "\n"


def save_config(cfg, run_dir: str | os.PathLike, name: str = "config.toml") -> Path:
    """Write the resolved config into the run folder (atomically); returns the path."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / name
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(dumps_toml(config_to_dict(cfg)))
    os.replace(tmp, path)
    return path
