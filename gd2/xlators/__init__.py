"""What the installed GlusterFS xlators accept: their option tables as data, and a value checker.

``load_table`` reads the tables out of the real ``.so`` files in a short-lived child process (this
process never loads libglusterfs) and caches them as JSON; ``check_value`` checks a value against one
option the way libglusterfs does. L1: loading runs a subprocess; ``validate`` itself is pure.
"""

from gd2.xlators.locate import xlator_dir
from gd2.xlators.table import XlatorOption, XlatorTable, fingerprint, load_table, run_dump
from gd2.xlators.validate import (
    check_address_list,
    check_toggle,
    check_value,
    format_size,
    parse_bool,
    parse_size,
    parse_time,
)

__all__ = [
    "XlatorOption",
    "XlatorTable",
    "check_address_list",
    "check_toggle",
    "check_value",
    "fingerprint",
    "format_size",
    "load_table",
    "parse_bool",
    "parse_size",
    "parse_time",
    "run_dump",
    "xlator_dir",
]
