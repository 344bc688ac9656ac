"""A real FUSE mount of a volume for tests: ``mount -t glusterfs``, always unmounted."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gd2.testing.daemon import DaemonProcess


@contextmanager
def mounted(gd2: DaemonProcess, volume: str, mountpoint: Path, log: Path) -> Iterator[Path]:
    """Mount ``volume`` through ``gd2`` on ``mountpoint`` (the client's log in ``log``); unmount after,
    lazily if a plain unmount left it mounted."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "glusterfs", "-o", f"log-file={log}", f"{gd2.address}:/{volume}",
                    str(mountpoint)], check=True, timeout=60, capture_output=True)
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=False, timeout=60)
        if os.path.ismount(mountpoint):
            subprocess.run(["umount", "-l", str(mountpoint)], check=False, timeout=60)
