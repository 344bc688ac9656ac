"""Where hook scripts live and which of them run: glusterd1's layout and rule.

``<localstatedir>/hooks/1/<op>/{pre,post}/`` holds the scripts of one
operation; they run one after another in byte order of their names (glusterd1
sorts with ``strcmp``).  A script runs when its name starts with ``S`` and
does not end in ``.rpmsave`` or ``.rpmnew`` (glusterd1's rule, so packaged
scripts can be switched off by renaming them, e.g. ``K30samba-start.sh``).
glusterd1 also tries the files it cannot execute, and logs that they failed;
here they are skipped, with a warning, before anything runs.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

HOOK_VERSION = 1
"""glusterd1's GLUSTERD_HOOK_VER: the ``1`` in the path and ``--version=1``."""

PRE = "pre"
POST = "post"

OPERATIONS = ("create", "delete", "start", "stop", "add-brick", "remove-brick", "set", "reset",
              "gsync-create")
"""Every operation glusterd1 has a hook directory for (glusterd_hook_dirnames); peer probe and
detach have none.  All of them are created at start, as glusterd1 does, so that scripts written
for glusterd1 can be dropped in; glusterd2 runs those of the operations it has."""

_DISABLED_SUFFIXES = ("*.rpmsave", "*.rpmnew")


def version_dir(root: Path) -> Path:
    """``<localstatedir>/hooks/1`` for ``root`` = ``<localstatedir>/hooks``."""
    return root / str(HOOK_VERSION)


def script_dir(root: Path, op: str, phase: str) -> Path:
    return version_dir(root) / op / phase


def is_enabled(name: str) -> bool:
    """glusterd1's rule for a script's file name (glusterd_is_hook_enabled)."""
    return name.startswith("S") and not any(fnmatch.fnmatchcase(name, p) for p in _DISABLED_SUFFIXES)


def select_scripts(directory: Path) -> list[Path]:
    """The scripts of one directory that run, in the order they run.  Blocking (a directory
    listing): call it in a thread.  A missing or unreadable directory has none."""
    try:
        names = sorted((entry.name for entry in os.scandir(directory)), key=os.fsencode)
    except FileNotFoundError:
        return []
    except OSError as exc:
        log.warning("hook scripts skipped: cannot list their directory", directory=str(directory),
                    error=exc.strerror or str(exc))
        return []
    scripts = []
    for name in names:
        if not is_enabled(name):
            continue
        path = directory / name
        if not path.is_file() or not os.access(path, os.X_OK):
            log.warning("hook script skipped: not an executable file", hook=str(path))
            continue
        scripts.append(path)
    return scripts


def ensure_layout(root: Path) -> None:
    """Create ``hooks/1/<op>/{pre,post}`` for every operation (blocking; in a thread)."""
    for op in OPERATIONS:
        for phase in (PRE, POST):
            script_dir(root, op, phase).mkdir(mode=0o755, parents=True, exist_ok=True)
