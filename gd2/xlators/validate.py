"""Check a volume option value the way libglusterfs checks it (``libglusterfs/src/options.c``).

Pure: works on :class:`XlatorOption` data only. Each ``GF_OPTION_TYPE_*`` has its own rules, which
follow the C parsers (``common-utils.c``) closely because a value accepted here is written into a
volfile that the real bricks and clients then parse: strtoll/strtod number syntax (base prefixes,
leading blanks, exponents), size units KB..PB (case-insensitive, powers of 1024, no "KiB"), time
units s/sec/m/min/h/hr/d/days/w/wk, the ten boolean spellings, fnmatch (with extglob) for STR
choices, and the address grammars with their wildcards.

Deliberate differences, all stricter: empty values and values with control characters are refused
(they cannot be written into a volfile), NaN is refused where C's comparisons would let it through,
and numbers that would overflow C integer types are refused instead of wrapping.

glusterd1 stores a value exactly as the user spelled it, so a valid value is returned unchanged.
"""

from __future__ import annotations

import functools
import math
import re
import string
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from gd2.errors import InvalidRequest

if TYPE_CHECKING:
    # Only the type: this module works on table data and needs nothing of the loading machinery.
    from gd2.xlators.table import XlatorOption

TRUE_WORDS = ("on", "true", "yes", "enable", "1")
FALSE_WORDS = ("off", "false", "no", "disable", "0")
BOOL_WORDS = ("on", "off", "true", "false", "yes", "no", "enable", "disable", "1", "0")

KB = 1024
SIZE_UNITS = {"KB": KB, "MB": KB**2, "GB": KB**3, "TB": KB**4, "PB": KB**5}
TIME_UNITS = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600,
              "d": 86400, "days": 86400, "w": 604800, "wk": 604800}

_INT64_MAX = 2**63 - 1
_INT64_MIN = -(2**63)
_UINT64_MAX = 2**64 - 1
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_C_SPACE = " \t\n\v\f\r"
_ALNUM = frozenset(string.ascii_letters + string.digits)
_DIGITS = frozenset(string.digits)
_HOST_NAME_MAX = 255  # _POSIX_HOST_NAME_MAX
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # tabs are blanks, like spaces


def check_value(option: XlatorOption, value: str, *, name: str | None = None) -> str:
    """``value`` if ``option`` accepts it, else InvalidRequest naming ``name`` (default: the
    option's primary key) and what it must be."""
    label = name or option.name
    _check_text(label, value)
    check = _CHECKS.get(option.type)
    if check is None:
        raise InvalidRequest(f"option {label} has an unknown type {option.type}", {"option": label})
    problem = check(option, value)
    if problem is not None:
        raise InvalidRequest(f"invalid value {value!r} for {label}: must be {problem}",
                             {"option": label, "value": value})
    return value


ADDRESS_LIST_HINT = ("a comma-separated list of addresses, host names, wildcards (192.168.*) or CIDR networks, "
                     "or of /dir(addr|addr) entries")


def check_address_list(value: str, *, name: str) -> str:
    """``value`` if it is an address list the server xlator accepts (auth.allow, auth.reject).

    Checked even when the xlator tables are unknown: a brick whose volfile has an address list
    it cannot parse fails validate_auth_options and exits at start.  Stricter than glusterd1 in
    two ways, both for values that can only be typing mistakes: a list with no entry at all
    (",") is refused, as it would allow or reject nobody; and an entry made of digits and dots
    only must be an IPv4 address or network (glusterd1 takes "256.0.0.1" or "1.2.3" for a host
    name, which no resolver returns).
    """
    _check_text(name, value)
    if (not _Tokens(value).next(",") or not valid_address_list(value)
            or any(_numeric_but_not_ipv4(address) for address in _list_addresses(value))):
        raise InvalidRequest(f"invalid value {value!r} for {name}: must be {ADDRESS_LIST_HINT}",
                             {"option": name, "value": value})
    return value


def check_toggle(value: str, *, name: str | None = None) -> str:
    """``value`` if it is a boolean spelling (for keys that put an xlator in or out of the graph)."""
    label = name or "the xlator switch"
    _check_text(label, value)
    if parse_bool(value) is None:
        raise InvalidRequest(f"invalid value {value!r} for {label}: must be {_one_of(BOOL_WORDS)}",
                             {"option": label, "value": value})
    return value


def parse_bool(value: str) -> bool | None:
    """True/False for the ten spellings gf_string2boolean knows (any case), None otherwise."""
    word = value.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def parse_size(value: str) -> int | None:
    """Bytes for a size such as ``4MB``, ``1.5GB``, ``512``, ``64kb`` (gf_string2bytesize_uint64)."""
    if _starts_negative(value):
        return None
    if "." in value:
        parsed = _strtod(value)
        if parsed is None:
            return None
        number: float | int = parsed[0]
        tail = parsed[1]
    else:
        parsed_int = _strtol(value, 10)
        if parsed_int is None or not _INT64_MIN <= parsed_int[0] <= _INT64_MAX:
            return None
        number, tail = parsed_int
    if tail:
        if tail.upper() in SIZE_UNITS:
            number *= SIZE_UNITS[tail.upper()]
        elif tail.upper() != "B":
            return None
    if math.isnan(number) or number > _INT64_MAX:
        return None
    return int(number)


def parse_time(value: str) -> int | None:
    """Seconds for a time such as ``42``, ``30s``, ``5min``, ``2h``, ``1days`` (gf_string2time)."""
    if _starts_negative(value):
        return None
    parsed = _strtol(value, 0)
    if parsed is None or not _INT64_MIN <= parsed[0] <= _INT64_MAX:
        return None
    number, tail = parsed
    if tail not in TIME_UNITS:
        return None
    seconds = number * TIME_UNITS[tail]
    return seconds if seconds <= _UINT64_MAX else None


# -- C number syntax -------------------------------------------------------------------------------


def _starts_negative(value: str) -> bool:
    """The unsigned parsers refuse a '-' as the first non-blank character."""
    return value.lstrip(_C_SPACE).startswith("-")


def _strtol(text: str, base: int) -> tuple[int, str] | None:
    """(number, unparsed tail) as strtol/strtoll read it, or None when no digits were read."""
    s = text.lstrip(_C_SPACE)
    sign = 1
    if s[:1] in ("+", "-"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    hex_prefix = s[:2] in ("0x", "0X") and s[2:3] != "" and s[2] in string.hexdigits
    if base == 0:
        base = 16 if hex_prefix else 8 if s[:1] == "0" else 10
    if base == 16 and hex_prefix:
        s = s[2:]
    digits = string.digits[:base] if base <= 10 else string.digits + string.ascii_letters[: base - 10]
    allowed = frozenset(digits + digits.upper())
    end = 0
    while end < len(s) and s[end] in allowed:
        end += 1
    if end == 0:
        return None
    return sign * int(s[:end], base), s[end:]


_FLOAT = re.compile(
    r"""[+-]?(?:
        (?P<inf>inf(?:inity)?)
      | (?P<nan>nan(?:\([0-9A-Za-z_]*\))?)
      | (?P<hex>0[xX](?:[0-9A-Fa-f]+(?:\.[0-9A-Fa-f]*)?|\.[0-9A-Fa-f]+)(?:[pP][+-]?[0-9]+)?)
      | (?P<dec>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
    )""",
    re.VERBOSE | re.IGNORECASE,
)


def _strtod(text: str) -> tuple[float, str] | None:
    """(number, unparsed tail) as strtod reads it; None when nothing was read or on ERANGE."""
    s = text.lstrip(_C_SPACE)
    match = _FLOAT.match(s)
    if match is None:
        return None
    token = match.group(0)
    negative = token.startswith("-")
    if match.group("inf"):
        number = -math.inf if negative else math.inf
    elif match.group("nan"):
        number = math.nan
    else:
        number = float.fromhex(token) if match.group("hex") else float(token)
        mantissa = re.split("[pP]" if match.group("hex") else "[eE]", token)[0]
        significant = any(c not in "0.+-xX" for c in mantissa)
        overflow = math.isinf(number)
        underflow = significant and abs(number) < sys.float_info.min
        if overflow or underflow:
            return None
    return number, s[match.end():]


def _int_value(value: str) -> int | None:
    """gf_string2longlong with options.c's extra refusal of "-0"."""
    parsed = _strtol(value, 0)
    if parsed is None or parsed[1] or not _INT64_MIN <= parsed[0] <= _INT64_MAX:
        return None
    if parsed[0] == 0 and _starts_negative(value):
        return None
    return parsed[0]


def _double_value(value: str) -> float | None:
    parsed = _strtod(value)
    if parsed is None or parsed[1] or math.isnan(parsed[0]):
        return None
    return parsed[0]


def _int32_value(value: str) -> int | None:
    parsed = _strtol(value, 0)
    if parsed is None or parsed[1] or not _INT32_MIN <= parsed[0] <= _INT32_MAX:
        return None
    return parsed[0]


# -- messages --------------------------------------------------------------------------------------


def _check_text(label: str, value: str) -> None:
    if value == "":
        raise InvalidRequest(f"invalid value for {label}: the value must not be empty",
                             {"option": label, "value": value})
    if _CONTROL.search(value):
        raise InvalidRequest(f"invalid value {value!r} for {label}: control characters are not allowed",
                             {"option": label, "value": value})


# "optional blanks" in a choice pattern (protocol/server transport-type: ``tcp*([ \t]),*([ \t])rdma``):
# shown as nothing, so the message lists what a user would type and stays on one line.
_BLANKS = re.compile(r"\*\(\[[ \t]+\]\)")


def _one_of(words: tuple[str, ...]) -> str:
    return "one of " + ", ".join(words)


def _number_text(number: float) -> str:
    return str(int(number)) if number == int(number) else f"{number:g}"


def format_size(number: float) -> str:
    """A byte count the way a user would type it: the largest unit that divides it exactly."""
    count = int(number)
    for unit, factor in reversed(SIZE_UNITS.items()):
        if count >= factor and count % factor == 0:
            return f"{count // factor}{unit}"
    return f"{count}B" if count == number else f"{number:g}B"


def _range(low: float | None, high: float | None, show: Callable[[float], str]) -> str:
    if low is not None and high is not None:
        return f"between {show(low)} and {show(high)}"
    if low is not None:
        return f"at least {show(low)}"
    if high is not None:
        return f"at most {show(high)}"
    return ""


def _outside(number: float, low: float | None, high: float | None) -> bool:
    return (low is not None and number < low) or (high is not None and number > high)


def _kind_and_range(kind: str, low: float | None, high: float | None, show: Callable[[float], str]) -> str:
    bounds = _range(low, high, show)
    return f"{kind} {bounds}" if bounds else kind


def _seconds(number: float) -> str:
    return f"{_number_text(number)}s"


# -- one checker per option type: None when the value is valid, else what it must be ---------------

Check = Callable[["XlatorOption", str], "str | None"]


def _check_int(option: XlatorOption, value: str) -> str | None:
    number = _int_value(value)
    if number is None:
        return _kind_and_range("an integer", option.min, option.max, _number_text)
    if _outside(number, option.min, option.max):
        return _range(option.min, option.max, _number_text)
    return None


def _check_double(option: XlatorOption, value: str) -> str | None:
    number = _double_value(value)
    if number is None:
        return _kind_and_range("a number", option.min, option.max, _number_text)
    if _outside(number, option.min, option.max):
        return _range(option.min, option.max, _number_text)
    return None


def _check_sizet(option: XlatorOption, value: str) -> str | None:
    size = parse_size(value)
    if size is None:
        return _kind_and_range("a size (bytes, or with a unit KB, MB, GB, TB, PB)", option.min, option.max,
                               format_size)
    if _outside(size, option.min, option.max):
        return _range(option.min, option.max, format_size)
    return None


def _check_time(option: XlatorOption, value: str) -> str | None:
    seconds = parse_time(value)
    if seconds is None:
        return _kind_and_range("a time in seconds (or with a unit s, m, h, d, w)", option.min, option.max,
                               _seconds)
    if _outside(seconds, option.min, option.max):
        return _range(option.min, option.max, _seconds)
    return None


def _check_percent(option: XlatorOption, value: str) -> str | None:
    requirement = "a percentage between 0% and 100%"
    if _starts_negative(value):
        return requirement
    parsed = _strtod(value)
    if parsed is None or parsed[1] not in ("", "%") or not 0.0 <= parsed[0] <= 100.0:
        return requirement
    return None


def _check_percent_or_sizet(option: XlatorOption, value: str) -> str | None:
    sizes = _range(option.min, option.max, format_size)
    requirement = "a percentage between 0% and 100% or a whole size" + (f" {sizes}" if sizes else "")
    if _starts_negative(value):
        return requirement
    parsed = _strtod(value)
    if parsed is None or math.isnan(parsed[0]):
        return requirement
    number, tail = parsed
    if tail == "%":
        return None if 0.0 <= number <= 100.0 else requirement
    if tail:
        if tail.upper() not in SIZE_UNITS:
            return requirement
        number *= SIZE_UNITS[tail.upper()]
    if number > _UINT64_MAX:
        return requirement
    # A size must not be fractional: everything after the first '.' has to be '0' (so "1.0MB" is
    # refused, as in options.c).
    _, dot, fraction = value.partition(".")
    if dot and fraction.strip("0"):
        return requirement
    if _outside(number, option.min, option.max):
        return requirement
    return None


def _check_bool(option: XlatorOption, value: str) -> str | None:
    return None if parse_bool(value) is not None else _one_of(BOOL_WORDS)


def _check_path(option: XlatorOption, value: str) -> str | None:
    if "../" in value or not value.startswith("/"):
        return "an absolute path without '../'"
    return None


def _check_str(option: XlatorOption, value: str) -> str | None:
    if not option.choices:
        return None
    if value.strip(" ") and any(_glob(pattern).fullmatch(value) for pattern in option.choices):
        return None
    return _one_of(tuple(dict.fromkeys(_BLANKS.sub("", choice) for choice in option.choices)))


def _check_any(option: XlatorOption, value: str) -> str | None:
    return None


def _check_address(option: XlatorOption, value: str) -> str | None:
    if valid_internet_address(value, wildcard=False, cidr=False):
        return None
    return "an IPv4 or IPv6 address or a host name"


def _check_address_list(option: XlatorOption, value: str) -> str | None:
    if valid_address_list(value):
        return None
    return ADDRESS_LIST_HINT


def _check_client_auth(option: XlatorOption, value: str) -> str | None:
    entries = _Tokens(value)
    first = entries.next(",")
    if first is None:
        return "a comma-separated list of addresses, host names, patterns or IPv4 networks"
    entry: str | None = first
    while entry is not None:
        if not valid_mount_auth_address(entry):
            return "a comma-separated list of addresses, host names, patterns or IPv4 networks"
        entry = entries.next(",")
    return None


def _check_priority_list(option: XlatorOption, value: str) -> str | None:
    if _list_elements(value, lambda item: _int32_value(item) is not None):
        return None
    return "a comma-separated list of PATTERN:PRIORITY pairs (e.g. *.jpg:3,*:1)"


def _check_size_list(option: XlatorOption, value: str) -> str | None:
    def size_ok(text: str) -> bool:
        size = parse_size(text)
        return size is not None and size % 512 == 0 and not (option.min is not None and size < option.min)

    if size_ok(value) or _list_elements(value, size_ok):
        return None
    at_least = f" of at least {format_size(option.min)}" if option.min is not None else ""
    return f"a size that is a multiple of 512{at_least}, or a list of PATTERN:SIZE pairs of such sizes"


def _check_xlator(option: XlatorOption, value: str) -> str | None:
    # The value names another xlator of the same graph, which only volgen knows.
    return None


def _check_max(option: XlatorOption, value: str) -> str | None:
    return "nothing: the option has no valid type"


_CHECKS: dict[str, Check] = {
    "ANY": _check_any,
    "STR": _check_str,
    "INT": _check_int,
    "SIZET": _check_sizet,
    "PERCENT": _check_percent,
    "PERCENT_OR_SIZET": _check_percent_or_sizet,
    "BOOL": _check_bool,
    "XLATOR": _check_xlator,
    "PATH": _check_path,
    "TIME": _check_time,
    "DOUBLE": _check_double,
    "INTERNET_ADDRESS": _check_address,
    "INTERNET_ADDRESS_LIST": _check_address_list,
    "PRIORITY_LIST": _check_priority_list,
    "SIZE_LIST": _check_size_list,
    "CLIENT_AUTH_ADDR": _check_client_auth,
    "MAX": _check_max,
}


# -- lists and addresses ---------------------------------------------------------------------------


class _Tokens:
    """strtok_r over one string: each call may use different delimiters; empty fields are skipped."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0

    def next(self, delimiters: str) -> str | None:
        text, pos = self._text, self._pos
        while pos < len(text) and text[pos] in delimiters:
            pos += 1
        if pos >= len(text):
            self._pos = len(text)
            return None
        end = pos
        while end < len(text) and text[end] not in delimiters:
            end += 1
        self._pos = min(end + 1, len(text))
        return text[pos:end]


def _list_elements(value: str, value_ok: Callable[[str], bool]) -> bool:
    """``key:value,key:value...`` with at least one element, each value accepted by ``value_ok``."""
    elements = _Tokens(value)
    element = elements.next(",")
    if element is None:
        return False
    while element is not None:
        parts = _Tokens(element)
        if parts.next(":") is None:
            return False
        item = parts.next(":")
        if item is None or not value_ok(item):
            return False
        element = elements.next(",")
    return True


def valid_host_name(address: str) -> bool:
    """RFC 1912 host name: dot-separated labels of letters, digits and inner hyphens."""
    if not 1 <= len(address) <= _HOST_NAME_MAX:
        return False
    if address[-1] not in _ALNUM and address[-1] != "*":
        return False
    if ".." in address:
        return False
    labels = [label for label in address.split(".") if label]
    if not labels:
        return False
    for label in labels:
        if label[0] not in _ALNUM or label[-1] not in _ALNUM:
            return False
        if any(c not in _ALNUM and c != "-" for c in label[1:]):
            return False
    return True


def valid_ipv4_address(address: str, *, wildcard: bool) -> bool:
    """Dotted quad; with ``wildcard``, a ``*`` field also stands for the fields missing after it."""
    if not address or ".." in address or (address[-1] not in _DIGITS and address[-1] != "*"):
        return False
    octets = 0
    has_wildcard = False
    for field in (f for f in address.split(".") if f):
        octets += 1
        if wildcard and field == "*":
            has_wildcard = True
            continue
        parsed = _strtol(field, 10)
        if parsed is None or parsed[1] or not 0 <= parsed[0] <= 255:
            return False
    return not (octets > 4 or (octets < 4 and not has_wildcard))


def valid_ipv6_address(address: str, *, wildcard: bool) -> bool:
    """Colon-separated 16-bit hex fields, one ``::`` allowed, an optional ``%zone``."""
    text = address.split("%", 1)[0]
    if not text or text[-1] == ":":
        return False
    compressed = sum(1 for i in range(len(text) - 1) if text[i] == ":" and text[i + 1] == ":")
    if compressed > 1:
        return False
    fields = 0
    has_wildcard = False
    for field in (f for f in text.split(":") if f):
        fields += 1
        if wildcard and field == "*":
            has_wildcard = True
            continue
        parsed = _strtol(field, 16)
        if parsed is None or parsed[1] or not 0 <= parsed[0] <= 0xFFFF:
            return False
    return not (fields > 8 or (fields < 8 and not has_wildcard and not compressed))


def _atoi(text: str) -> int:
    parsed = _strtol(text, 10)
    return 0 if parsed is None else parsed[0]


def valid_cidr_address(address: str, *, wildcard: bool) -> bool:
    """``a.b.c.d/n`` with n in 1..32 (digits after n are ignored, as atoi does)."""
    prefix, slash, mask = address.partition("/")
    if not slash or not 1 <= _atoi(mask) <= 32:
        return False
    return valid_ipv4_address(prefix, wildcard=wildcard)


def valid_internet_address(address: str, *, wildcard: bool, cidr: bool) -> bool:
    """An IPv4 or IPv6 address or host name; optionally with ``*`` wildcards or as a CIDR network."""
    if not address:
        return False
    if cidr and valid_cidr_address(address, wildcard=wildcard):
        return True
    return (valid_ipv4_address(address, wildcard=wildcard) or valid_ipv6_address(address, wildcard=wildcard)
            or valid_host_name(address))


def valid_address_list(value: str) -> bool:
    """INTERNET_ADDRESS_LIST: ``addr,addr...`` or ``/dir(addr|addr),/dir2(addr)...``."""
    if not value.startswith("/") and "(" not in value:
        entries = _Tokens(value)
        entry = entries.next(",")
        while entry is not None:
            if not valid_internet_address(entry, wildcard=True, cidr=True):
                return False
            entry = entries.next(",")
        return True
    entries = _Tokens(value)
    entry = entries.next(",")
    while entry is not None:
        parts = _Tokens(entry)
        directory = parts.next("(")
        if directory is None or not directory.startswith("/"):
            return False
        addresses = parts.next(")")
        if addresses is None:
            return False
        alternatives = _Tokens(addresses)
        address = alternatives.next("|")
        if address is None:
            return False
        while address is not None:
            if not valid_internet_address(address, wildcard=True, cidr=True):
                return False
            address = alternatives.next("|")
        entry = entries.next(",")
    return True


def _list_addresses(value: str) -> list[str]:
    """The addresses of a list valid_address_list accepted, in either of its two forms."""
    if not value.startswith("/") and "(" not in value:
        return [entry for entry in value.split(",") if entry]
    addresses: list[str] = []
    for entry in (e for e in value.split(",") if e):
        _directory, _, rest = entry.partition("(")
        addresses.extend(a for a in rest.split(")", 1)[0].split("|") if a)
    return addresses


def _numeric_but_not_ipv4(address: str) -> bool:
    if not address or any(c not in "0123456789." for c in address.partition("/")[0].replace("*", "")):
        return False
    return not (valid_ipv4_address(address, wildcard=True) or valid_cidr_address(address, wildcard=True))


def valid_ipv4_subnetwork(address: str) -> bool:
    """``a.b.c.d/n`` with n in 0..32, the whole suffix a number."""
    prefix, slash, mask = address.partition("/")
    if not slash or not mask or not valid_ipv4_address(prefix, wildcard=False):
        return False
    parsed = _strtol(mask, 10)
    return parsed is not None and not parsed[1] and 0 <= parsed[0] <= 32


def valid_mount_auth_address(address: str) -> bool:
    """CLIENT_AUTH_ADDR entry: ``*``, a pattern with ``* ? [``, an IPv4 network, an address or a name."""
    if not address:
        return False
    if address == "*":
        return True
    for char in address:
        if char in "*?[":
            return True
        if char == "/":
            return valid_ipv4_subnetwork(address)
    return (valid_ipv4_address(address, wildcard=False) or valid_ipv6_address(address, wildcard=False)
            or valid_host_name(address))


# -- fnmatch with FNM_EXTMATCH ---------------------------------------------------------------------

_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
    "space": r" \t\n\r\f\v", "blank": r" \t", "xdigit": "0-9A-Fa-f", "punct": re.escape(string.punctuation),
}


@functools.lru_cache(maxsize=512)
def _glob(pattern: str) -> re.Pattern[str]:
    """A regex equivalent to fnmatch(pattern, ., FNM_EXTMATCH) for a whole-string match."""
    return re.compile(_translate(pattern, 0, len(pattern)), re.DOTALL)


def _group_end(pattern: str, start: int) -> int:
    """Index of the ')' closing the group that opens at ``start`` ('('), or -1."""
    depth = 0
    i = start
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            end = _bracket_end(pattern, i)
            if end > 0:
                i = end + 1
                continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _bracket_end(pattern: str, start: int) -> int:
    """Index of the ']' closing the bracket expression at ``start``, or -1."""
    i = start + 1
    if i < len(pattern) and pattern[i] in "!^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    while i < len(pattern):
        if pattern.startswith("[:", i):
            close = pattern.find(":]", i + 2)
            if close > 0:
                i = close + 2
                continue
        if pattern[i] == "]":
            return i
        i += 1
    return -1


def _bracket(body: str) -> str:
    negate = body[:1] in ("!", "^")
    if negate:
        body = body[1:]
    parts: list[str] = []
    i = 0
    while i < len(body):
        if body.startswith("[:", i):
            close = body.find(":]", i + 2)
            if close > 0 and body[i + 2:close] in _CLASSES:
                parts.append(_CLASSES[body[i + 2:close]])
                i = close + 2
                continue
        if i + 2 < len(body) and body[i + 1] == "-":
            parts.append(f"{re.escape(body[i])}-{re.escape(body[i + 2])}")
            i += 3
            continue
        parts.append(re.escape(body[i]))
        i += 1
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def _alternatives(pattern: str, start: int, end: int) -> list[str]:
    """Split ``pattern[start:end]`` at top-level '|' and translate each part."""
    parts: list[str] = []
    depth = 0
    begin = i = start
    while i < end:
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            close = _bracket_end(pattern, i)
            if 0 < close < end:
                i = close + 1
                continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            parts.append(_translate(pattern, begin, i))
            begin = i + 1
        i += 1
    parts.append(_translate(pattern, begin, end))
    return parts


def _translate(pattern: str, start: int, end: int) -> str:
    out: list[str] = []
    i = start
    while i < end:
        c = pattern[i]
        if c in "*?+@!" and i + 1 < end and pattern[i + 1] == "(":
            close = _group_end(pattern, i + 1)
            if 0 < close < end:
                alternatives = "|".join(_alternatives(pattern, i + 2, close))
                if c == "!":
                    # Anything but the alternatives (exact when the group ends the pattern, which is
                    # the only way the installed tables could use it).
                    out.append(f"(?:(?!(?:{alternatives})\\Z).*?)")
                else:
                    suffix = {"*": "*", "?": "?", "+": "+", "@": ""}[c]
                    out.append(f"(?:{alternatives}){suffix}")
                i = close + 1
                continue
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            close = _bracket_end(pattern, i)
            if 0 < close < end:
                out.append(_bracket(pattern[i + 1:close]))
                i = close + 1
                continue
            out.append(re.escape(c))
        elif c == "\\" and i + 1 < end:
            out.append(re.escape(pattern[i + 1]))
            i += 1
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)
