"""Where the installed GlusterFS keeps its xlators."""

from __future__ import annotations

import subprocess
from pathlib import Path

from gd2.errors import InternalError

GLUSTERFSD = "/usr/sbin/glusterfsd"


def xlator_dir(configured: str = "", *, glusterfsd: str = GLUSTERFSD) -> Path:
    """``configured`` when set, else what ``glusterfsd --print-xlatordir`` reports."""
    if configured:
        return Path(configured)
    try:
        result = subprocess.run([glusterfsd, "--print-xlatordir"], capture_output=True, text=True,
                                timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise InternalError(f"cannot ask {glusterfsd} where the xlators are ({exc}); "
                            "is glusterfs-server installed? (or set xlator-dir)") from None
    return Path(result.stdout.strip())
