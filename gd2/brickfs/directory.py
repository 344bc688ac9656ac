"""What glusterd does to a brick directory when a volume is created or deleted.

A brick belongs to a volume when it carries ``trusted.glusterfs.volume-id``
(the volume's 16-byte UUID); glusterfsd refuses to export a directory whose
id does not match its volfile.  Like glusterd1 we refuse a path when it, or
any directory above it, already carries a volume id or a gfid, and we refuse
the root filesystem unless forced.

A brick path must not go through a symbolic link (the brick itself or any
directory above it).  glusterd1 stores the path as given and compares
realpath()s; that leaves the stored path, the volfile id and the marked
directory disagreeing, and a link re-pointed later makes the checks and the
delete look at another directory than the one marked.  So the admin is told
the real path instead, and every function here then works on one directory.
Releasing a brick of an older volume that was created through a link follows
the link to where its mark was set.  Every change records what it did so that
it can be undone exactly, and undo never removes a mark someone else set.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path

from gd2.errors import BrickError, Conflict, InvalidRequest

VOLUME_ID_XATTR = "trusted.glusterfs.volume-id"
GFID_XATTR = "trusted.gfid"
# On each directory glusterd2 created for a brick (value: the volume id), so
# that undoing a create after a crash knows which directories were ours.
CREATED_XATTR = "trusted.glusterd2.created"
# features/index initialises before posix and needs this directory to exist
# at the first start, so it is made at create time as glusterd1 does.
HIDDEN_DIR = ".glusterfs"
_IN_USE_XATTRS = (VOLUME_ID_XATTR, GFID_XATTR)


@dataclass(frozen=True)
class PreparedBrick:
    """What prepare_brick changed, so that it can be undone."""

    path: Path
    volume_id: str
    created_from: Path | None  # top-most directory we created, if any
    created_hidden: bool = False  # whether we created <brick>/.glusterfs


def _getxattr(path: Path, name: str) -> bytes | None:
    try:
        return os.getxattr(path, name, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in (errno.ENODATA, errno.ENOENT, errno.ENOTSUP):
            return None
        raise


def _existing_ancestor(path: Path) -> Path:
    probe = path
    while not probe.exists():
        probe = probe.parent
    return probe


def symlink_on_path(path: Path) -> Path | None:
    """The first existing component of ``path`` (itself included) that is a symbolic link."""
    probe = Path("/")
    for part in path.parts[1:]:
        probe = probe / part
        try:
            if stat.S_ISLNK(os.lstat(probe).st_mode):
                return probe
        except FileNotFoundError:
            return None
    return None


def _refuse_symlink(spec: str, path: Path) -> None:
    link = symlink_on_path(path)
    if link is None:
        return
    where = "is a symbolic link" if link == path else f"goes through the symbolic link {link}"
    raise InvalidRequest(
        f"brick {spec}: {path} {where}; give the real path ({os.path.realpath(path)}) instead",
        {"bricks": spec})


def _refuse_root(spec: str, path: Path) -> None:
    # pathlib keeps POSIX's "//" apart from "/": compare by what the path is, not how it is spelled.
    if not path.is_absolute() or path.parent == path:
        raise InvalidRequest(f"brick {spec}: {path} cannot be a brick (the root directory)", {"bricks": spec})


def _real(path: Path) -> Path:
    """Where a mark on ``path`` lands (the target when an older volume's brick is a link)."""
    return Path(os.path.realpath(path))


def check_brick_path(spec: str, path: Path, *, force: bool) -> None:
    """Refuse a brick path glusterd1 would refuse; ``spec`` names it in errors."""
    _refuse_root(spec, path)
    try:
        _refuse_symlink(spec, path)
        if path.exists() and not path.is_dir():
            raise InvalidRequest(f"brick {spec}: {path} exists and is not a directory", {"bricks": spec})
        probe = path
        while True:
            if probe.exists():
                for name in _IN_USE_XATTRS:
                    if _getxattr(probe, name) is not None:
                        where = "is" if probe == path else f"is inside {probe}, which is"
                        raise Conflict(
                            f"brick {spec} {where} already part of a volume ({name} is set)",
                            {"bricks": spec},
                        )
            if probe.parent == probe:
                break
            probe = probe.parent
        if not force and os.stat(_existing_ancestor(path)).st_dev == os.stat("/").st_dev:
            raise InvalidRequest(
                f"brick {spec} is on the root filesystem; use a separate filesystem for bricks, "
                "or add 'force' to create it there anyway",
                {"bricks": spec},
            )
    except OSError as exc:
        raise BrickError(f"brick {spec}: cannot check {path}: {exc.strerror}", {"bricks": spec}) from None


def prepare_brick(spec: str, path: Path, volume_id: str) -> PreparedBrick:
    """Create the directory if needed and mark it with the volume id.

    The mark is set with XATTR_CREATE so that of two concurrent creates on the
    same directory exactly one can claim it.
    """
    created_from: Path | None = None
    _refuse_root(spec, path)
    try:
        _refuse_symlink(spec, path)  # again: CheckBricks ran in an earlier step
        top = _existing_ancestor(path)
        if top != path:
            path.mkdir(mode=0o755, parents=True)
            created_from = path
            mark = uuid.UUID(volume_id).bytes
            os.setxattr(path, CREATED_XATTR, mark)
            while created_from.parent != top:
                created_from = created_from.parent
                os.setxattr(created_from, CREATED_XATTR, mark)
    except OSError as exc:
        raise BrickError(f"brick {spec}: cannot create {path}: {exc.strerror}", {"bricks": spec}) from None
    try:
        os.setxattr(path, VOLUME_ID_XATTR, uuid.UUID(volume_id).bytes, os.XATTR_CREATE)
    except OSError as exc:
        prepared = PreparedBrick(path, volume_id, created_from)
        unprepare_brick(prepared)
        if exc.errno == errno.EEXIST:
            raise Conflict(f"brick {spec} is already part of a volume", {"bricks": spec}) from None
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            raise BrickError(
                f"brick {spec}: the filesystem of {path} does not support extended attributes",
                {"bricks": spec},
            ) from None
        raise BrickError(f"brick {spec}: cannot set {VOLUME_ID_XATTR}: {exc.strerror}",
                         {"bricks": spec}) from None
    hidden = path / HIDDEN_DIR
    try:
        hidden.mkdir(mode=0o600)
        created_hidden = True
    except FileExistsError:
        created_hidden = False
    except OSError as exc:
        unprepare_brick(PreparedBrick(path, volume_id, created_from))
        raise BrickError(f"brick {spec}: cannot create {hidden}: {exc.strerror}", {"bricks": spec}) from None
    return PreparedBrick(path, volume_id, created_from, created_hidden)


def release_brick(path: Path, volume_id: str) -> bool:
    """Remove the volume-id mark if it is ``volume_id``'s; True if removed."""
    path = _real(path)
    try:
        if _getxattr(path, VOLUME_ID_XATTR) != uuid.UUID(volume_id).bytes:
            return False
        os.removexattr(path, VOLUME_ID_XATTR, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise BrickError(f"brick {path}: cannot remove {VOLUME_ID_XATTR}: {exc.strerror}") from None


class BrickGone(BrickError):
    """The brick directory does not exist (any more)."""


def mark_brick(path: Path, volume_id: str) -> None:
    """Set the mark again (undo of release_brick)."""
    path = _real(path)
    try:
        os.setxattr(path, VOLUME_ID_XATTR, uuid.UUID(volume_id).bytes)
    except FileNotFoundError:
        raise BrickGone(f"brick {path} does not exist") from None
    except OSError as exc:
        raise BrickError(f"brick {path}: cannot set {VOLUME_ID_XATTR}: {exc.strerror}") from None


def unprepare_brick(prepared: PreparedBrick) -> None:
    """Undo prepare_brick: our mark, then the directories we created if empty."""
    if prepared.created_hidden:
        with contextlib.suppress(OSError):
            (prepared.path / HIDDEN_DIR).rmdir()
    release_brick(prepared.path, prepared.volume_id)
    if prepared.created_from is None:
        return
    probe = prepared.path
    while True:
        if _getxattr(probe, VOLUME_ID_XATTR) is not None:
            return  # another volume claimed it meanwhile: it is theirs now
        try:
            probe.rmdir()
        except OSError:
            return  # not empty (someone wrote there) or gone: leave it
        if probe == prepared.created_from:
            return
        probe = probe.parent


def unprepare_after_crash(path: Path, volume_id: str) -> None:
    """Undo prepare_brick without its record (the process that prepared died).

    Removes our volume-id mark, an empty ``.glusterfs``, and then every empty
    directory up the path that carries our creation mark; touches nothing
    that another volume claimed or anyone wrote into.  Idempotent.
    """
    mark = uuid.UUID(volume_id).bytes
    if _getxattr(path, VOLUME_ID_XATTR) not in (None, mark):
        return  # another volume's brick: not ours to touch
    with contextlib.suppress(OSError):
        (path / HIDDEN_DIR).rmdir()
    release_brick(path, volume_id)
    probe = path
    while _getxattr(probe, CREATED_XATTR) == mark and _getxattr(probe, VOLUME_ID_XATTR) is None:
        try:
            probe.rmdir()
        except OSError:
            return
        probe = probe.parent


def brick_problem(path: Path, volume_id: str) -> str | None:
    """Why glusterfsd would refuse to export ``path`` for this volume, or None.

    Checked before spawning so that the admin gets the reason, not a brick log to read.
    """
    if not path.is_dir():
        return f"brick directory {path} is missing"
    try:
        mark = _getxattr(path, VOLUME_ID_XATTR)
    except OSError as exc:
        return f"cannot read {VOLUME_ID_XATTR} of {path}: {exc.strerror}"
    if mark is None:
        return f"{path} has no {VOLUME_ID_XATTR}: it is not this volume's brick (recreated?)"
    if mark != uuid.UUID(volume_id).bytes:
        return f"{path} belongs to another volume ({VOLUME_ID_XATTR} differs)"
    if not (path / HIDDEN_DIR).is_dir():
        return f"{path / HIDDEN_DIR} is missing"
    return None
