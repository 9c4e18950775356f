"""Files written whole or not at all, and versioned JSON read with one-line errors.

Every file morphsynth writes for later (model folders, checkpoints, libraries, dataset
notes, rendered WAVs, training history) goes through :func:`atomic_path`: a reader, or a
crash half-way, sees the old file or the new one, never a torn one.
"""

from __future__ import annotations

import json
import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from morphsynth.core.errors import MorphsynthError


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write; renamed over ``path`` when the block ends
    without an error, removed when it raises.

    The name is hidden and unique per process and call, so concurrent writers and folder
    globs never meet a half-written file; it is opened by the caller with the process's
    umask (unlike ``mkstemp``'s 0600), so a rendered WAV keeps ordinary permissions.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, value, **dump_options) -> None:
    """``value`` as indented JSON (one trailing newline), atomically."""
    atomic_write_text(path, json.dumps(value, indent=1, **dump_options) + "\n")


def read_versioned_json(path: str | Path, fmt: str, version: int, what: str, missing: str) -> dict:
    """The object in ``path`` whose ``format`` is ``fmt`` and ``format_version`` is ``version``.

    what: the kind of file in messages ("model file", "checkpoint"); missing: the hint
    given when the file does not exist. Anything else wrong is one
    :class:`MorphsynthError` line naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise MorphsynthError(f"{path}: missing ({missing})")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MorphsynthError(f"{path}: not valid JSON ({type(exc).__name__}); the {what} is damaged") from None
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        raise MorphsynthError(f"{path}: not a morphsynth {what} (format is not '{fmt}')")
    if meta.get("format_version") != version:
        raise MorphsynthError(f"{path}: format_version {meta.get('format_version')!r} is not supported "
                              f"(this build reads {version})")
    return meta
