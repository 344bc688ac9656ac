"""The option tables read from the installed GlusterFS 10.3 xlators, and value checking against them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from gd2.errors import InternalError, InvalidRequest
from gd2.xlators import (
    XlatorOption,
    XlatorTable,
    check_address_list,
    check_toggle,
    check_value,
    format_size,
    load_table,
    parse_bool,
    parse_size,
    parse_time,
    run_dump,
)
from gd2.xlators.table import Dump

XLATOR_DIR = Path("/usr/lib/x86_64-linux-gnu/glusterfs/10.3/xlator")
KB, MB, GB = 1024, 1024**2, 1024**3


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> XlatorTable:
    return load_table(XLATOR_DIR, tmp_path_factory.mktemp("xlator-cache") / "xlator-options.json")


def option(table: XlatorTable, xlator: str, key: str) -> XlatorOption:
    found = table.lookup(xlator, key)
    assert found is not None, f"{xlator} has no option {key}"
    return found


def synthetic(kind: str, low: float | None = None, high: float | None = None,
              choices: tuple[str, ...] = ()) -> XlatorOption:
    return XlatorOption(keys=("opt",), type=kind, min=low, max=high, choices=choices, default=None,
                        description="")


class CountingDump:
    """Runs the real dump, counting runs: the cache tests' witness."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self, xlator_dir: Path) -> Dump:
        self.runs += 1
        return run_dump(xlator_dir)


def small_xlator_dir(root: Path) -> Path:
    """A private xlator directory with copies of two real xlators (so tests may touch the files)."""
    xlator_dir = root / "xlator"
    for name in ("performance/write-behind.so", "cluster/afr.so"):
        (xlator_dir / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(XLATOR_DIR / name, xlator_dir / name)
    return xlator_dir


# -- what the dump reads ---------------------------------------------------------------------------


def test_the_dump_finds_the_standard_xlators(table: XlatorTable) -> None:
    expected = {
        "protocol/client", "protocol/server", "cluster/replicate", "cluster/afr", "cluster/disperse",
        "cluster/distribute", "storage/posix", "debug/io-stats", "rpc-transport/socket",
        "performance/write-behind", "performance/io-cache", "performance/md-cache", "performance/quick-read",
        "performance/read-ahead", "performance/readdir-ahead", "performance/open-behind",
        "performance/io-threads", "performance/nl-cache",
        "features/locks", "features/upcall", "features/index", "features/shard", "features/bit-rot",
        "features/changelog", "features/quota", "features/marker", "features/trash",
    }
    assert expected <= set(table.xlators())
    assert table.failed == {}
    assert sum(len(table.options(x)) for x in table.xlators()) > 500
    assert len(table.options("protocol/client")) >= 10
    assert all(entry.type in {"ANY", "STR", "INT", "SIZET", "PERCENT", "PERCENT_OR_SIZET", "BOOL", "XLATOR",
                              "PATH", "TIME", "DOUBLE", "INTERNET_ADDRESS", "INTERNET_ADDRESS_LIST",
                              "PRIORITY_LIST", "SIZE_LIST", "CLIENT_AUTH_ADDR"}
               for _, entry in table)


def test_write_behind_cache_size_is_a_bounded_size_with_an_alias(table: XlatorTable) -> None:
    entry = option(table, "performance/write-behind", "cache-size")
    assert (entry.type, entry.min, entry.max, entry.default) == ("SIZET", 512 * KB, 1 * GB, "1MB")
    assert entry.keys == ("cache-size", "window-size")
    assert "settable" in entry.flags and entry.description
    assert table.lookup("performance/write-behind", "window-size") is entry


def test_replicate_quorum_type_lists_its_choices(table: XlatorTable) -> None:
    entry = option(table, "cluster/replicate", "quorum-type")
    assert (entry.type, entry.choices, entry.default) == ("STR", ("none", "auto", "fixed"), "none")
    assert table.lookup("cluster/afr", "quorum-type") == entry


def test_client_ping_timeout_is_a_time_up_to_1013_seconds(table: XlatorTable) -> None:
    entry = option(table, "protocol/client", "ping-timeout")
    assert (entry.type, entry.min, entry.max, entry.default) == ("TIME", 0, 1013, "42")


def test_posix_volume_id_and_more_known_types(table: XlatorTable) -> None:
    assert option(table, "storage/posix", "volume-id").type == "ANY"
    assert option(table, "storage/posix", "directory").type == "PATH"
    io_cache = option(table, "performance/io-cache", "cache-size")
    assert (io_cache.type, io_cache.min, io_cache.max) == ("SIZET", 4 * MB, None)  # INFINITY: no upper bound
    heal_count = option(table, "cluster/replicate", "background-self-heal-count")
    assert (heal_count.type, heal_count.min, heal_count.max) == ("INT", 0, None)  # validate=min
    assert option(table, "cluster/distribute", "min-free-disk").type == "PERCENT_OR_SIZET"
    assert option(table, "cluster/distribute", "min-free-inodes").type == "PERCENT"
    assert option(table, "cluster/disperse", "redundancy").type == "INT"
    assert option(table, "performance/io-cache", "priority").type == "PRIORITY_LIST"
    assert option(table, "mount/fuse", "attribute-timeout").type == "DOUBLE"
    assert option(table, "protocol/client", "remote-host").type == "INTERNET_ADDRESS"
    assert option(table, "performance/write-behind", "flush-behind").type == "BOOL"
    assert option(table, "rpc-transport/socket", "transport.socket.keepalive").type == "BOOL"


def test_lookup_honours_patterns_and_misses_cleanly(table: XlatorTable) -> None:
    allow = option(table, "protocol/server", "auth.addr./bricks/b1.allow")
    assert allow.keys == ("auth.addr.*.allow", "auth.allow") and allow.type == "INTERNET_ADDRESS_LIST"
    assert table.lookup("protocol/client", "no-such-option") is None
    assert table.lookup("no/such-xlator", "cache-size") is None
    assert table.options("no/such-xlator") == ()


def test_the_module_form_prints_the_same_json() -> None:
    done = subprocess.run([sys.executable, "-m", "gd2.xlators._dump", str(XLATOR_DIR)],
                          capture_output=True, check=True)
    dump = json.loads(done.stdout)
    assert dump["format"] == 1 and dump["errors"] == {}
    assert {"protocol/client", "storage/posix"} <= set(dump["xlators"])


def test_glusterd2_never_loads_libglusterfs_itself(table: XlatorTable) -> None:
    assert table.xlators()
    assert "libglusterfs" not in Path("/proc/self/maps").read_text()


# -- the cache ---------------------------------------------------------------------------------------


def test_the_cache_is_reused_while_the_xlators_are_unchanged(tmp_path: Path) -> None:
    xlator_dir = small_xlator_dir(tmp_path)
    cache = tmp_path / "state" / "xlator-options.json"
    dump = CountingDump()
    first = load_table(xlator_dir, cache, dump=dump)
    assert dump.runs == 1 and cache.is_file()
    assert first.xlators() == ["cluster/afr", "performance/write-behind"]
    second = load_table(xlator_dir, cache, dump=dump)
    assert dump.runs == 1
    assert second == first


def test_a_changed_xlator_refreshes_the_cache(tmp_path: Path) -> None:
    xlator_dir = small_xlator_dir(tmp_path)
    cache = tmp_path / "xlator-options.json"
    dump = CountingDump()
    load_table(xlator_dir, cache, dump=dump)
    library = xlator_dir / "performance/write-behind.so"
    stat = library.stat()
    os.utime(library, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # what an upgrade does
    load_table(xlator_dir, cache, dump=dump)
    assert dump.runs == 2
    load_table(xlator_dir, cache, dump=dump)
    assert dump.runs == 2
    shutil.copy2(XLATOR_DIR / "protocol/client.so", xlator_dir / "performance/client.so")  # a new one
    refreshed = load_table(xlator_dir, cache, dump=dump)
    assert dump.runs == 3 and "performance/client" in refreshed.xlators()


@pytest.mark.parametrize("content", [
    "not json at all {",
    "[]",
    '{"fingerprint": 7}',
    '{"fingerprint": "x", "dump": {}}',
])
def test_a_corrupt_cache_is_rebuilt(tmp_path: Path, content: str) -> None:
    xlator_dir = small_xlator_dir(tmp_path)
    cache = tmp_path / "xlator-options.json"
    dump = CountingDump()
    good = load_table(xlator_dir, cache, dump=dump)
    stored = json.loads(cache.read_text())
    cache.write_text(content.replace('"x"', json.dumps(stored["fingerprint"])))
    assert load_table(xlator_dir, cache, dump=dump) == good
    assert dump.runs == 2
    assert json.loads(cache.read_text())["fingerprint"] == stored["fingerprint"]
    load_table(xlator_dir, cache, dump=dump)
    assert dump.runs == 2


def test_a_cache_of_another_format_is_rebuilt(tmp_path: Path) -> None:
    xlator_dir = small_xlator_dir(tmp_path)
    cache = tmp_path / "xlator-options.json"
    dump = CountingDump()
    load_table(xlator_dir, cache, dump=dump)
    stored = json.loads(cache.read_text())
    stored["dump"]["format"] = 999
    cache.write_text(json.dumps(stored))
    load_table(xlator_dir, cache, dump=dump)
    assert dump.runs == 2


def test_no_cache_means_a_dump_every_time(tmp_path: Path) -> None:
    xlator_dir = small_xlator_dir(tmp_path)
    dump = CountingDump()
    load_table(xlator_dir, None, dump=dump)
    load_table(xlator_dir, None, dump=dump)
    assert dump.runs == 2


def test_an_unwritable_cache_still_gives_the_table(tmp_path: Path) -> None:
    xlator_dir = small_xlator_dir(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("")
    table = load_table(xlator_dir, blocker / "xlator-options.json")
    assert "cluster/afr" in table.xlators()


def test_a_missing_xlator_dir_is_an_internal_error(tmp_path: Path) -> None:
    with pytest.raises(InternalError, match="does not exist"):
        load_table(tmp_path / "nowhere", tmp_path / "cache.json")


def test_unreadable_libraries_are_reported(tmp_path: Path) -> None:
    xlator_dir = small_xlator_dir(tmp_path)
    (xlator_dir / "features").mkdir()
    (xlator_dir / "features/broken.so").write_text("not an ELF file")
    table = load_table(xlator_dir, tmp_path / "cache.json")
    assert set(table.failed) == {"features/broken"}
    assert "cluster/afr" in table.xlators()


def test_a_dump_that_reads_nothing_is_an_internal_error(tmp_path: Path) -> None:
    (tmp_path / "xlator/features").mkdir(parents=True)
    (tmp_path / "xlator/features/broken.so").write_text("not an ELF file")
    with pytest.raises(InternalError, match=r"no xlator option table could be read.*features/broken"):
        load_table(tmp_path / "xlator", tmp_path / "cache.json")
    assert not (tmp_path / "cache.json").exists()


def test_a_failing_or_malformed_dump_is_an_internal_error(tmp_path: Path) -> None:
    xlator_dir = small_xlator_dir(tmp_path)

    def malformed(_: Path) -> Dump:
        return {"format": 1, "xlators": {"x/y": {"options": [{"keys": []}]}}, "errors": {}}

    with pytest.raises(InternalError, match="malformed"):
        load_table(xlator_dir, tmp_path / "cache.json", dump=malformed)
    with pytest.raises(InternalError, match=r"failed: .*not a directory"):
        run_dump(tmp_path / "nowhere")


# -- checking values -------------------------------------------------------------------------------

Case = tuple[XlatorOption, list[str], list[str]]

CASES: dict[str, Case] = {
    "int": (synthetic("INT", 0, 1013),
            ["0", "1013", "+5", " 7", "0x10", "010", "0X3f1"], ["1014", "-1", "-0", "08", "1e3", "5 ", "x", "0x"]),
    "int-min-only": (synthetic("INT", -1, None), ["-1", "99999999999"], ["-2", "9223372036854775808"]),
    "int-unbounded": (synthetic("INT"), ["-9223372036854775808", "12"], ["1.5"]),
    "sizet": (synthetic("SIZET", 512 * KB, 1 * GB),
              ["512KB", "1MB", "1mb", "1.5MB", "1048576", "1GB", " 2MB", "600kB", "1048576B"],
              ["511KB", "2GB", "1KiB", "-1MB", "1 MB", "0x100000", "MB", "1M", "1.5e400MB"]),
    "sizet-unbounded": (synthetic("SIZET"), ["0", "5PB", "1.5tb"], ["-0", "9000000PB"]),
    "time": (synthetic("TIME", 0, 1013),
             ["42", "10s", "10sec", "1m", "16min", "0x10", "1013"], ["17min", "1h", "10secs", "-1", "1S", "1.5"]),
    "time-unbounded": (synthetic("TIME"), ["1h", "2hr", "3d", "1days", "1w", "2wk"], ["1day", "1y"]),
    "percent": (synthetic("PERCENT", 0, 100),
                ["5%", "5", "100.0%", "0", "12.5%"], ["101%", "-1%", "5 %", "nan", "five", "5%%"]),
    "percent-or-size": (synthetic("PERCENT_OR_SIZET"),
                        ["10%", "1GB", "1.0", "1.5%", "100KB", "0x10", "7"],
                        ["1.0MB", "1.5", "1B", "120%", "-5%", "5 GB", "inf", "nan"]),
    "percent-or-size-bounded": (synthetic("PERCENT_OR_SIZET", 1 * MB, 1 * GB), ["1MB", "50%"], ["1KB", "2GB"]),
    "double": (synthetic("DOUBLE", 0, 1.0), ["0.5", "1", "1e-3", " .25", "0x0.8p0"], ["1.5", "-0.5", "abc", "nan"]),
    "double-unbounded": (synthetic("DOUBLE"), ["-2.5", "1e300"], ["1.5x", "1e999"]),
    "bool": (synthetic("BOOL"),
             ["on", "OFF", "Enable", "disable", "yes", "No", "true", "FALSE", "1", "0"], ["maybe", "2", "y", " on"]),
    "path": (synthetic("PATH"), ["/", "/bricks/b1", "/a/.."], ["bricks/b1", "/a/../b", "~/x"]),
    "str-free": (synthetic("STR"), ["anything at all", " "], []),
    "str-choices": (synthetic("STR", choices=("none", "auto", "fixed")), ["none", "auto", "fixed"],
                    ["None", "maybe", "auto ", " "]),
    "str-globs": (synthetic("STR", choices=("[a-c]x", "log?", "rdma*([ \t]),*([ \t])tcp", "@(foo|bar)",
                                            "+(ab)", "[[:digit:]]z", "[!q]q")),
                  ["bx", "log1", "rdma,tcp", "rdma , tcp", "rdma\t,tcp", "foo", "bar", "abab", "7z", "pq"],
                  ["dx", "log", "rdma,,tcp", "foobar", "aba", "zz", "qq", "no"]),
    "str-not": (synthetic("STR", choices=("!(no|off)",)), ["yes", "nono", "o"], ["no", "off"]),
    "any": (synthetic("ANY"), ["{{ brick.path }}", "x y"], []),
    "xlator": (synthetic("XLATOR"), ["gv0-client-0"], []),
    "address": (synthetic("INTERNET_ADDRESS"),
                ["10.0.0.1", "::1", "fe80::1%eth0", "2001:db8:0:0:0:0:0:1", "host-1.example.com", "localhost"],
                ["192.168.*", "10.0.0.0/8", "bad_host", "-host", "host-", "a..b", "1:2:3", "1::2::3"]),
    "address-list": (synthetic("INTERNET_ADDRESS_LIST"),
                     ["192.168.*", "10.0.0.0/8,host1", "*", "::1,10.1.*.*", "/dir(1.2.3.4|5.6.7.8),/other(*)"],
                     ["/dir", "dir(1.2.3.4)", "1.2.3.4/33", "bad host", "/dir()", "/dir(a_b)", "1.2.3.4:80"]),
    "client-auth": (synthetic("CLIENT_AUTH_ADDR"),
                    ["*", "10.0.0.0/24", "host?", "10.0.0.1,example.com", "[ab]*", "::1"],
                    ["10.0.0.0/33", "10.0.0.0/", "a..b", ",", "10.0.0.0/24x"]),
    "priority-list": (synthetic("PRIORITY_LIST"), ["*.jpg:3,*:1", "*.txt:0x10"],
                      ["*.jpg", "*:x", "*:99999999999", ":5", ","]),
    "size-list": (synthetic("SIZE_LIST"), ["1MB", "512", "*:128KB,/a:1MB"], ["1000", "*:1000", "*.x", "-512"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_values_are_checked_like_libglusterfs(case: str) -> None:
    entry, good, bad = CASES[case]
    for value in good:
        assert check_value(entry, value) == value, value
    for value in bad:
        with pytest.raises(InvalidRequest, match=r"^invalid value .* for opt: must be "):
            check_value(entry, value)


@pytest.mark.parametrize("kind", ["INT", "STR", "ANY", "BOOL", "SIZET", "PATH"])
def test_empty_and_control_characters_are_refused_for_every_type(kind: str) -> None:
    with pytest.raises(InvalidRequest, match="must not be empty"):
        check_value(synthetic(kind), "")
    with pytest.raises(InvalidRequest, match="control characters"):
        check_value(synthetic(kind), "1\n")


def test_messages_name_the_option_and_what_is_valid(table: XlatorTable) -> None:
    wanted: list[tuple[Callable[[], str], str]] = [
        (lambda: check_toggle("maybe", name="performance.write-behind"),
         "invalid value 'maybe' for performance.write-behind: must be one of on, off, true, false, yes, no, "
         "enable, disable, 1, 0"),
        (lambda: check_value(synthetic("SIZET", 4 * MB, 32 * GB), "64GB", name="performance.cache-size"),
         "invalid value '64GB' for performance.cache-size: must be between 4MB and 32GB"),
        (lambda: check_value(option(table, "performance/write-behind", "cache-size"), "lots",
                             name="performance.write-behind-window-size"),
         "invalid value 'lots' for performance.write-behind-window-size: must be a size (bytes, or with a unit "
         "KB, MB, GB, TB, PB) between 512KB and 1GB"),
        (lambda: check_value(option(table, "cluster/replicate", "quorum-type"), "maybe", name="cluster.quorum-type"),
         "invalid value 'maybe' for cluster.quorum-type: must be one of none, auto, fixed"),
        (lambda: check_value(option(table, "protocol/client", "ping-timeout"), "2000", name="network.ping-timeout"),
         "invalid value '2000' for network.ping-timeout: must be between 0s and 1013s"),
        (lambda: check_value(option(table, "cluster/replicate", "background-self-heal-count"), "-1"),
         "invalid value '-1' for background-self-heal-count: must be at least 0"),
        (lambda: check_value(option(table, "performance/io-cache", "cache-size"), "1KB"),
         "invalid value '1KB' for cache-size: must be at least 4MB"),
    ]
    for call, message in wanted:
        with pytest.raises(InvalidRequest) as caught:
            call()
        assert str(caught.value) == message
        assert "\n" not in str(caught.value)
        assert caught.value.fields["option"] in message


def test_real_options_accept_their_own_defaults(table: XlatorTable) -> None:
    checked = 0
    for xlator, entry in table:
        if entry.default and "{{" not in entry.default:  # "{{ brick.path }}": filled in by volgen
            check_value(entry, entry.default, name=f"{xlator}:{entry.name}")
            checked += 1
    assert checked > 400


def test_real_transport_type_choices_read_well(table: XlatorTable) -> None:
    entry = option(table, "protocol/server", "transport-type")
    assert check_value(entry, "tcp , rdma") == "tcp , rdma"
    with pytest.raises(InvalidRequest) as caught:
        check_value(entry, "udp")
    assert "rdma,tcp" in str(caught.value) and "\t" not in str(caught.value)


def test_toggles_keep_the_users_spelling() -> None:
    assert check_toggle("Enable") == "Enable"
    assert check_toggle("0") == "0"
    with pytest.raises(InvalidRequest, match="must not be empty"):
        check_toggle("")


def test_parsers_give_the_values_libglusterfs_would() -> None:
    assert parse_bool("YES") is True and parse_bool("disable") is False and parse_bool("nah") is None
    assert parse_size("1.5KB") == 1536 and parse_size("4mb") == 4 * MB and parse_size("10B") == 10
    assert parse_size("1KiB") is None and parse_size("-1") is None
    assert parse_time("2min") == 120 and parse_time("1wk") == 604800 and parse_time("1y") is None
    assert [format_size(n) for n in (512 * KB, 4 * MB, 32 * GB, 1000, 1536)] == [
        "512KB", "4MB", "32GB", "1000B", "1536B"]


# -- address lists (auth.allow / auth.reject): glusterd1's valid_internet_address grammar ---------

_GOOD_ADDRESS_LISTS = [
    "*", "127.0.0.1", "192.168.*.*", "192.168.*", "10.*", "10.0.0.0/8", "192.168.1.0/24",
    "host.example.com", "localhost", "server-1", "::1", "fe80::1", "2001:db8::1",
    "2001:db8:0:0:0:0:0:1", "2001:db8:*", "fe80::1%eth0", "127.0.0.1,10.0.0.0/8,host.example.com",
    "127.0.0.1,", ",127.0.0.1", "/(127.0.0.1)", "/sub(127.0.0.1|10.*),/other(*)",
]
_BAD_ADDRESS_LISTS = [
    "garbage value", "", ",", ",,", "*.example.com", "256.0.0.1", "1.2.3.4.5", "1.2.3", "10.0.0.0/33", "10.0.0.0/0",
    "-host", "host-", "host..example.com", "a b", "1.2.3.4 ", "127.0.0.1;10.0.0.1", "2001:db8::1::2",
    "1:2:3:4:5:6:7:8:9", "/sub", "/sub()", "sub(127.0.0.1)", "/sub(bad value)", "127.0.0.1\n",
    "h\x00", "x" * 256,
]


@pytest.mark.parametrize("value", _GOOD_ADDRESS_LISTS)
def test_address_lists_glusterd1_accepts(value: str) -> None:
    assert check_address_list(value, name="auth.allow") == value


@pytest.mark.parametrize("value", _BAD_ADDRESS_LISTS)
def test_address_lists_refused(value: str) -> None:
    with pytest.raises(InvalidRequest, match=r"auth\.allow") as caught:
        check_address_list(value, name="auth.allow")
    assert caught.value.fields["option"] == "auth.allow"
