"""Hook scripts in glusterd1's layout (``<localstatedir>/hooks/1/<op>/{pre,post}/S*``):
which scripts run, and running one (an adapter over subprocesses).  Which
operations run them, with which arguments and when, is gd2.commands.hooks."""

from gd2.hooks.layout import HOOK_VERSION, OPERATIONS, POST, PRE, ensure_layout, script_dir, select_scripts
from gd2.hooks.runner import HookOutcome, HookRunner, hook_environment

__all__ = ["HOOK_VERSION", "OPERATIONS", "POST", "PRE", "HookOutcome", "HookRunner", "ensure_layout",
           "hook_environment", "script_dir", "select_scripts"]
