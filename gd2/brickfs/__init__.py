"""Brick directories on this node's disks: checks, volume-id xattrs, undo."""

from gd2.brickfs.directory import (
    VOLUME_ID_XATTR,
    BrickGone,
    PreparedBrick,
    brick_problem,
    check_brick_path,
    mark_brick,
    prepare_brick,
    release_brick,
    unprepare_after_crash,
    unprepare_brick,
)

__all__ = [
    "VOLUME_ID_XATTR",
    "BrickGone",
    "PreparedBrick",
    "brick_problem",
    "check_brick_path",
    "mark_brick",
    "prepare_brick",
    "release_brick",
    "unprepare_after_crash",
    "unprepare_brick",
]
