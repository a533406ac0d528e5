"""Messages from files for `intake ingest`: .eml files, folders of them, mbox files and Maildir folders."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path

from pipeline.errors import UsageError

MAIL_SUFFIXES = {".eml", ".msg", ".mbox", ".mbx"}


def is_maildir(path: Path) -> bool:
    return all((path / sub).is_dir() for sub in ("cur", "new", "tmp"))


def is_mbox(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(5) == b"From " and path.suffix.lower() not in {".eml", ".msg"}


def _mailbox_messages(box: mailbox.Mailbox, name: str) -> Iterator[tuple[str, bytes]]:  # type: ignore[type-arg]
    for key in sorted(box.keys(), key=str):
        yield f"{name}#{key}", box.get_bytes(key)


def read_messages(paths: list[str]) -> Iterator[tuple[str, bytes]]:
    """(source, raw bytes) for every message under the given paths, in a stable order."""
    for name in paths:
        path = Path(name)
        if not path.exists():
            raise UsageError(f"no such file or folder: {name}")
        if path.is_dir():
            if is_maildir(path):
                yield from _mailbox_messages(mailbox.Maildir(path, create=False), name)
                continue
            for child in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
                if child.suffix.lower() in MAIL_SUFFIXES or is_mbox(child):
                    yield from read_messages([str(child)])
        elif is_mbox(path):
            yield from _mailbox_messages(mailbox.mbox(path, create=False), name)
        else:
            yield name, path.read_bytes()
