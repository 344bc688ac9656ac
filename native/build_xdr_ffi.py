"""cffi builder for the XDR codec extension, gd2.xdr._xdr_native.

meson runs ``python build_xdr_ffi.py OUT.c`` to emit the cffi wrapper source, then compiles it with
xdr_codec.c (native/meson.build). ``python build_xdr_ffi.py --compile DIR`` builds the module with
cffi alone, for quick experiments outside meson.

The declarations below mirror xdr_codec.h and gxdr_rpc.h; cffi cannot read the header itself because of its
preprocessor lines.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cffi

HERE = Path(__file__).resolve().parent

CDEF = """
enum gxdr_status {
    GXDR_OK = 0,
    GXDR_E_TRUNCATED = -1,
    GXDR_E_TOO_LONG = -2,
    GXDR_E_BAD_BOOL = -3,
    GXDR_E_RANGE = -4,
    GXDR_E_NO_SPACE = -5,
    GXDR_E_FORMAT = -6,
    GXDR_E_ARGS = -7,
    GXDR_E_RECORD_TOO_LARGE = -8,
    GXDR_E_FIXED_LENGTH = -9,
    GXDR_E_TRAILING = -10,
    GXDR_E_BAD_MSG = -11,
    GXDR_E_BAD_DICT = -12
};

#define GXDR_MAX_FRAGMENT 0x7fffffff
#define GXDR_LAST_FRAGMENT 0x80000000

int64_t gxdr_put_u32(uint8_t *buf, size_t cap, size_t pos, uint32_t v);
int64_t gxdr_put_i32(uint8_t *buf, size_t cap, size_t pos, int32_t v);
int64_t gxdr_put_u64(uint8_t *buf, size_t cap, size_t pos, uint64_t v);
int64_t gxdr_put_i64(uint8_t *buf, size_t cap, size_t pos, int64_t v);
int64_t gxdr_put_bool(uint8_t *buf, size_t cap, size_t pos, uint32_t v);
int64_t gxdr_put_fixed(uint8_t *buf, size_t cap, size_t pos, const uint8_t *data, size_t n);
int64_t gxdr_put_opaque(uint8_t *buf, size_t cap, size_t pos, const uint8_t *data, size_t n,
                        uint32_t max);

int64_t gxdr_get_u32(const uint8_t *buf, size_t len, size_t pos, uint32_t *out);
int64_t gxdr_get_i32(const uint8_t *buf, size_t len, size_t pos, int32_t *out);
int64_t gxdr_get_u64(const uint8_t *buf, size_t len, size_t pos, uint64_t *out);
int64_t gxdr_get_i64(const uint8_t *buf, size_t len, size_t pos, int64_t *out);
int64_t gxdr_get_bool(const uint8_t *buf, size_t len, size_t pos, uint32_t *out);
int64_t gxdr_get_fixed(const uint8_t *buf, size_t len, size_t pos, size_t n, size_t *off);
int64_t gxdr_get_opaque(const uint8_t *buf, size_t len, size_t pos, uint32_t max, size_t *off,
                        uint32_t *n);

int64_t gxdr_format_compile(const char *fmt, uint8_t *kinds, uint32_t *args, size_t cap);
int64_t gxdr_pack(uint8_t *buf, size_t cap, size_t pos, const char *fmt, const uint64_t *vals,
                  size_t nvals, const uint8_t *blob, size_t bloblen, size_t *needed);
int64_t gxdr_unpack(const uint8_t *buf, size_t len, size_t pos, const char *fmt, uint64_t *out,
                    size_t nout);

uint64_t gxdr_record_size(uint64_t len, uint32_t max_frag);
int64_t gxdr_record_encode(uint8_t *out, size_t cap, const uint8_t *payload, size_t len,
                           uint32_t max_frag);

typedef struct gxdr_reasm { size_t pos; ...; } gxdr_reasm;
void gxdr_reasm_init(gxdr_reasm *r, uint64_t max_record);
int64_t gxdr_reasm_scan(gxdr_reasm *r, const uint8_t *chunk, size_t len, size_t pos,
                        uint64_t *spans, size_t max_spans);
int gxdr_reasm_idle(const gxdr_reasm *r);

/* gxdr_rpc.h */
#define GXDR_MAX_AUTH 400

enum gxdr_msg {
    GXDR_MSG_VOID, GXDR_MSG_RAW, GXDR_MSG_DICT, GXDR_MSG_DUMP_REQ, GXDR_MSG_DUMP_RSP,
    GXDR_MSG_COMMON_RSP, GXDR_MSG_GETSPEC_REQ, GXDR_MSG_GETSPEC_RSP, GXDR_MSG_EVENT_NOTIFY_REQ,
    GXDR_MSG_EVENT_NOTIFY_RSP, GXDR_MSG_GET_VOLUME_INFO_REQ, GXDR_MSG_GET_VOLUME_INFO_RSP,
    GXDR_MSG_PORTBYBRICK_REQ, GXDR_MSG_PORTBYBRICK_RSP, GXDR_MSG_SIGNIN_REQ, GXDR_MSG_SIGNIN_RSP,
    GXDR_MSG_SIGNOUT_REQ, GXDR_MSG_SIGNOUT_RSP, GXDR_MSG_COUNT
};

enum gxdr_call_slot {
    GXDR_CALL_XID, GXDR_CALL_RPCVERS, GXDR_CALL_PROG, GXDR_CALL_VERS, GXDR_CALL_PROC,
    GXDR_CALL_CRED_FLAVOR, GXDR_CALL_CRED_OFF, GXDR_CALL_CRED_LEN, GXDR_CALL_VERF_FLAVOR,
    GXDR_CALL_VERF_OFF, GXDR_CALL_VERF_LEN, GXDR_CALL_ARGS_OFF, GXDR_CALL_ARGS_MSG,
    GXDR_CALL_ARGS_STATUS, GXDR_CALL_SLOTS
};

enum gxdr_reply_slot {
    GXDR_REPLY_XID, GXDR_REPLY_STAT, GXDR_REPLY_DETAIL, GXDR_REPLY_LOW, GXDR_REPLY_HIGH,
    GXDR_REPLY_VERF_FLAVOR, GXDR_REPLY_VERF_OFF, GXDR_REPLY_VERF_LEN, GXDR_REPLY_BODY_OFF,
    GXDR_REPLY_SLOTS
};

int64_t gxdr_decode_call(const uint8_t *buf, size_t len, uint64_t *out, size_t nout);
int64_t gxdr_decode_reply(const uint8_t *buf, size_t len, int32_t msg, uint64_t *out,
                          size_t nout);
int64_t gxdr_decode_body(const uint8_t *buf, size_t len, size_t pos, int32_t msg, uint64_t *out,
                         size_t nout);
int64_t gxdr_encode_call(uint8_t *buf, size_t cap, const uint8_t *vals, size_t nvals,
                         const uint8_t *blob, size_t bloblen);
int64_t gxdr_encode_reply(uint8_t *buf, size_t cap, const uint8_t *vals, size_t nvals,
                          const uint8_t *blob, size_t bloblen);
int64_t gxdr_encode_body(uint8_t *buf, size_t cap, const uint8_t *vals, size_t nvals,
                         const uint8_t *blob, size_t bloblen);
"""

ffibuilder = cffi.FFI()
ffibuilder.cdef(CDEF)
# sources and include_dirs only matter to --compile; meson passes its own.
ffibuilder.set_source(
    "gd2.xdr._xdr_native",
    '#include "xdr_codec.h"\n#include "gxdr_rpc.h"',
    sources=[str(HERE / "xdr_codec.c"), str(HERE / "gxdr_rpc.c")],
    include_dirs=[str(HERE)],
    extra_compile_args=["-std=c11"],
)


def main(argv: list[str]) -> int:
    """Emit the wrapper C source to argv[1], or build the module under DIR with --compile DIR."""
    if len(argv) == 3 and argv[1] == "--compile":
        ffibuilder.compile(tmpdir=argv[2])
        return 0
    if len(argv) != 2:
        print(f"usage: {argv[0]} OUT.c | --compile DIR", file=sys.stderr)
        return 2
    ffibuilder.emit_c_code(argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
