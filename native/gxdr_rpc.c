/*
 * RPC headers, GlusterFS management messages and the glusterfs dict, decoded and encoded in one
 * pass each. See gxdr_rpc.h for the slot and value layouts.
 *
 * Every read is bounds-checked with the primitives of xdr_codec.c; lengths off the wire are only
 * ever compared with what is left, in 64-bit arithmetic, never used to size anything.
 */
#include "gxdr_rpc.h"

#include <string.h>

#define RPC_CALL 0
#define RPC_REPLY 1
#define RPC_VERSION 2
#define MSG_ACCEPTED 0
#define MSG_DENIED 1
#define SUCCESS 0
#define PROG_MISMATCH 2
#define SYSTEM_ERR 5
#define RPC_MISMATCH 0
#define AUTH_ERROR 1

#define PROG_DUMP 123451501u
#define PROG_HANDSHAKE 14398633u
#define PROG_PORTMAP 34123456u
#define PROG_CALLBACK 52743234u

/* Smallest wire size of a dict pair (two lengths and the key's NUL) and of a DUMP list entry. */
#define MIN_PAIR 9u
#define MIN_PROG 24u

static const char *const layouts[GXDR_MSG_COUNT] = {
    [GXDR_MSG_VOID] = "",
    [GXDR_MSG_RAW] = NULL,
    [GXDR_MSG_DICT] = "d",
    [GXDR_MSG_DUMP_REQ] = "Q",
    [GXDR_MSG_DUMP_RSP] = "QiiL",
    [GXDR_MSG_COMMON_RSP] = "iiD",
    [GXDR_MSG_GETSPEC_REQ] = "IsD",
    [GXDR_MSG_GETSPEC_RSP] = "iisD",
    [GXDR_MSG_EVENT_NOTIFY_REQ] = "iD",
    [GXDR_MSG_EVENT_NOTIFY_RSP] = "iiD",
    [GXDR_MSG_GET_VOLUME_INFO_REQ] = "D",
    [GXDR_MSG_GET_VOLUME_INFO_RSP] = "iisD",
    [GXDR_MSG_PORTBYBRICK_REQ] = "s",
    [GXDR_MSG_PORTBYBRICK_RSP] = "iiii",
    [GXDR_MSG_SIGNIN_REQ] = "sii",
    [GXDR_MSG_SIGNIN_RSP] = "ii",
    [GXDR_MSG_SIGNOUT_REQ] = "sii",
    [GXDR_MSG_SIGNOUT_RSP] = "ii",
};

/* The arguments of the procedures this codec knows; RAW for everything else. */
static int32_t call_args_msg(uint32_t prog, uint32_t vers, uint32_t proc)
{
    if (prog == PROG_DUMP && vers == 1) {
        switch (proc) {
        case 0: case 2: return GXDR_MSG_VOID; /* NULL, PING */
        case 1: return GXDR_MSG_DUMP_REQ;
        }
    } else if (prog == PROG_HANDSHAKE && vers == 2) {
        switch (proc) {
        case 0: return GXDR_MSG_VOID;
        case 2: return GXDR_MSG_GETSPEC_REQ;
        case 5: return GXDR_MSG_EVENT_NOTIFY_REQ;
        case 6: return GXDR_MSG_GET_VOLUME_INFO_REQ;
        }
    } else if (prog == PROG_PORTMAP && vers == 1) {
        switch (proc) {
        case 0: return GXDR_MSG_VOID;
        case 1: return GXDR_MSG_PORTBYBRICK_REQ;
        case 4: return GXDR_MSG_SIGNIN_REQ;
        case 5: return GXDR_MSG_SIGNOUT_REQ;
        }
    } else if (prog == PROG_CALLBACK && vers == 1 && proc == 1) {
        return GXDR_MSG_VOID; /* FETCHSPEC */
    }
    return GXDR_MSG_RAW;
}

static inline uint32_t rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- decoding ---------------------------------------------------------------------------------- */

struct dec {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    uint64_t *out;
    size_t nout;
    size_t k; /* slots produced; may pass nout, so that a retry knows how many it needs */
};

static inline void slot(struct dec *d, uint64_t v)
{
    if (d->k < d->nout)
        d->out[d->k] = v;
    d->k++;
}

static inline void set_slot(struct dec *d, size_t k, uint64_t v)
{
    if (k < d->nout)
        d->out[k] = v;
}

#define TRY(expr)                      \
    do {                               \
        int64_t r_ = (expr);           \
        if (r_ < 0)                    \
            return r_;                 \
    } while (0)

static int64_t get32(struct dec *d, uint32_t *v)
{
    int64_t r = gxdr_get_u32(d->buf, d->len, d->pos, v);
    if (r >= 0)
        d->pos = (size_t)r;
    return r;
}

static int64_t get_opaque(struct dec *d, uint32_t max, size_t *off, uint32_t *n)
{
    int64_t r = gxdr_get_opaque(d->buf, d->len, d->pos, max, off, n);
    if (r >= 0)
        d->pos = (size_t)r;
    return r;
}

/* A serialized dict filling buf[start, start + n). */
static int64_t dict_decode(struct dec *d, size_t start, size_t n)
{
    const uint8_t *buf = d->buf;
    size_t end = start + n, p = start;
    size_t count_slot = d->k;
    uint32_t count, i;

    slot(d, 0);
    if (n == 0)
        return 0;
    if (n < 4)
        return GXDR_E_BAD_DICT;
    count = rd32(buf + p);
    p += 4;
    if (count > (n - 4) / MIN_PAIR)
        return GXDR_E_BAD_DICT;
    for (i = 0; i < count; i++) {
        uint32_t kl, vl;
        if (end - p < 8)
            return GXDR_E_BAD_DICT;
        kl = rd32(buf + p);
        vl = rd32(buf + p + 4);
        p += 8;
        if ((uint64_t)kl + 1 + vl > end - p)
            return GXDR_E_BAD_DICT;
        if (buf[p + kl] != 0 || memchr(buf + p, 0, kl) != NULL)
            return GXDR_E_BAD_DICT;
        slot(d, p);
        slot(d, kl);
        slot(d, p + kl + 1);
        slot(d, vl);
        p += (size_t)kl + 1 + vl;
    }
    if (p != end)
        return GXDR_E_BAD_DICT;
    set_slot(d, count_slot, count);
    return 0;
}

static int64_t prog_list_decode(struct dec *d)
{
    size_t count_slot = d->k;
    uint64_t count = 0;
    uint32_t more;

    slot(d, 0);
    for (;;) {
        size_t off;
        uint32_t n;
        uint64_t num, ver;
        int64_t r = gxdr_get_bool(d->buf, d->len, d->pos, &more);
        if (r < 0)
            return r;
        d->pos = (size_t)r;
        if (!more)
            break;
        TRY(get_opaque(d, UINT32_MAX, &off, &n));
        TRY(r = gxdr_get_u64(d->buf, d->len, d->pos, &num));
        d->pos = (size_t)r;
        TRY(r = gxdr_get_u64(d->buf, d->len, d->pos, &ver));
        d->pos = (size_t)r;
        slot(d, off);
        slot(d, n);
        slot(d, num);
        slot(d, ver);
        count++;
    }
    set_slot(d, count_slot, count);
    return 0;
}

/* Decode body msg from d->pos; the buffer must end where the body does. */
static int64_t body_decode(struct dec *d, int32_t msg)
{
    const char *item;

    if (msg < 0 || msg >= GXDR_MSG_COUNT || msg == GXDR_MSG_RAW)
        return GXDR_E_ARGS;
    for (item = layouts[msg]; *item; item++) {
        switch (*item) {
        case 'I': {
            uint32_t v;
            TRY(get32(d, &v));
            slot(d, v);
            break;
        }
        case 'i': {
            uint32_t v;
            TRY(get32(d, &v));
            slot(d, (uint64_t)(int64_t)(int32_t)v);
            break;
        }
        case 'Q': {
            uint64_t v;
            int64_t r = gxdr_get_u64(d->buf, d->len, d->pos, &v);
            if (r < 0)
                return r;
            d->pos = (size_t)r;
            slot(d, v);
            break;
        }
        case 's': {
            size_t off;
            uint32_t n;
            TRY(get_opaque(d, UINT32_MAX, &off, &n));
            slot(d, off);
            slot(d, n);
            break;
        }
        case 'D': {
            size_t off;
            uint32_t n;
            TRY(get_opaque(d, UINT32_MAX, &off, &n));
            TRY(dict_decode(d, off, n));
            break;
        }
        case 'd':
            TRY(dict_decode(d, d->pos, d->len - d->pos));
            d->pos = d->len;
            break;
        case 'L':
            TRY(prog_list_decode(d));
            break;
        default:
            return GXDR_E_FORMAT;
        }
    }
    return d->pos == d->len ? 0 : GXDR_E_TRAILING;
}

static int64_t finish(struct dec *d)
{
    if (d->k > d->nout) {
        d->out[0] = d->k;
        return GXDR_E_NO_SPACE;
    }
    return (int64_t)d->k;
}

int64_t gxdr_decode_body(const uint8_t *buf, size_t len, size_t pos, int32_t msg, uint64_t *out,
                         size_t nout)
{
    struct dec d = {buf, len, pos, out, nout, 0};
    if (nout < 1)
        return GXDR_E_ARGS;
    if (pos > len)
        return GXDR_E_TRUNCATED;
    TRY(body_decode(&d, msg));
    return finish(&d);
}

int64_t gxdr_decode_call(const uint8_t *buf, size_t len, uint64_t *out, size_t nout)
{
    struct dec d = {buf, len, 0, out, nout, 0};
    uint32_t xid, mtype, rpcvers, prog, vers, proc, cflavor, vflavor, clen, vlen;
    size_t coff, voff;
    int32_t msg;
    int64_t status;

    if (nout < GXDR_CALL_SLOTS)
        return GXDR_E_ARGS;
    TRY(get32(&d, &xid));
    TRY(get32(&d, &mtype));
    if (mtype != RPC_CALL)
        return GXDR_E_BAD_MSG;
    TRY(get32(&d, &rpcvers));
    memset(out, 0, GXDR_CALL_SLOTS * sizeof *out);
    out[GXDR_CALL_XID] = xid;
    out[GXDR_CALL_RPCVERS] = rpcvers;
    if (rpcvers != RPC_VERSION) {
        /* Nothing after rpcvers has a known layout: the caller answers RPC_MISMATCH. */
        out[GXDR_CALL_ARGS_OFF] = d.pos;
        out[GXDR_CALL_ARGS_MSG] = GXDR_MSG_RAW;
        return GXDR_CALL_SLOTS;
    }
    TRY(get32(&d, &prog));
    TRY(get32(&d, &vers));
    TRY(get32(&d, &proc));
    TRY(get32(&d, &cflavor));
    TRY(get_opaque(&d, GXDR_MAX_AUTH, &coff, &clen));
    TRY(get32(&d, &vflavor));
    TRY(get_opaque(&d, GXDR_MAX_AUTH, &voff, &vlen));
    out[GXDR_CALL_PROG] = prog;
    out[GXDR_CALL_VERS] = vers;
    out[GXDR_CALL_PROC] = proc;
    out[GXDR_CALL_CRED_FLAVOR] = cflavor;
    out[GXDR_CALL_CRED_OFF] = coff;
    out[GXDR_CALL_CRED_LEN] = clen;
    out[GXDR_CALL_VERF_FLAVOR] = vflavor;
    out[GXDR_CALL_VERF_OFF] = voff;
    out[GXDR_CALL_VERF_LEN] = vlen;
    out[GXDR_CALL_ARGS_OFF] = d.pos;
    msg = call_args_msg(prog, vers, proc);
    out[GXDR_CALL_ARGS_MSG] = (uint64_t)msg;
    if (msg == GXDR_MSG_RAW)
        return GXDR_CALL_SLOTS;
    d.k = GXDR_CALL_SLOTS;
    status = body_decode(&d, msg);
    if (status < 0) {
        out[GXDR_CALL_ARGS_STATUS] = (uint64_t)status;
        return GXDR_CALL_SLOTS;
    }
    return finish(&d);
}

int64_t gxdr_decode_reply(const uint8_t *buf, size_t len, int32_t msg, uint64_t *out,
                          size_t nout)
{
    struct dec d = {buf, len, 0, out, nout, 0};
    uint32_t xid, mtype, stat, detail, v;

    if (nout < GXDR_REPLY_SLOTS)
        return GXDR_E_ARGS;
    TRY(get32(&d, &xid));
    TRY(get32(&d, &mtype));
    if (mtype != RPC_REPLY)
        return GXDR_E_BAD_MSG;
    TRY(get32(&d, &stat));
    memset(out, 0, GXDR_REPLY_SLOTS * sizeof *out);
    out[GXDR_REPLY_XID] = xid;
    out[GXDR_REPLY_STAT] = stat;
    if (stat == MSG_ACCEPTED) {
        size_t voff;
        uint32_t vlen;
        TRY(get32(&d, &v));
        out[GXDR_REPLY_VERF_FLAVOR] = v;
        TRY(get_opaque(&d, GXDR_MAX_AUTH, &voff, &vlen));
        out[GXDR_REPLY_VERF_OFF] = voff;
        out[GXDR_REPLY_VERF_LEN] = vlen;
        TRY(get32(&d, &detail));
        if (detail > SYSTEM_ERR)
            return GXDR_E_BAD_MSG;
        if (detail == PROG_MISMATCH) {
            TRY(get32(&d, &v));
            out[GXDR_REPLY_LOW] = v;
            TRY(get32(&d, &v));
            out[GXDR_REPLY_HIGH] = v;
        }
    } else if (stat == MSG_DENIED) {
        TRY(get32(&d, &detail));
        if (detail == RPC_MISMATCH) {
            TRY(get32(&d, &v));
            out[GXDR_REPLY_LOW] = v;
            TRY(get32(&d, &v));
            out[GXDR_REPLY_HIGH] = v;
        } else if (detail == AUTH_ERROR) {
            TRY(get32(&d, &v));
            out[GXDR_REPLY_LOW] = v;
        } else {
            return GXDR_E_BAD_MSG;
        }
    } else {
        return GXDR_E_BAD_MSG;
    }
    out[GXDR_REPLY_DETAIL] = detail;
    out[GXDR_REPLY_BODY_OFF] = d.pos;
    d.k = GXDR_REPLY_SLOTS;
    if (stat != MSG_ACCEPTED || detail != SUCCESS)
        return d.pos == len ? GXDR_REPLY_SLOTS : GXDR_E_TRAILING;
    if (msg == GXDR_MSG_RAW)
        return GXDR_REPLY_SLOTS;
    TRY(body_decode(&d, msg));
    return finish(&d);
}

/* ---- encoding ---------------------------------------------------------------------------------- */

struct enc {
    uint8_t *buf;
    size_t cap;
    size_t pos;
    const uint8_t *vals;
    size_t nvals;
    size_t vi;
    const uint8_t *blob;
    size_t bloblen;
    size_t bi;
};

static int64_t next_val(struct enc *e, int64_t *v)
{
    if (e->vi == e->nvals)
        return GXDR_E_ARGS;
    memcpy(v, e->vals + 8 * e->vi, 8);
    e->vi++;
    return 0;
}

/* A value that must fit in [lo, hi]. */
static int64_t next_in(struct enc *e, int64_t lo, int64_t hi, int64_t *v)
{
    TRY(next_val(e, v));
    return (*v < lo || *v > hi) ? GXDR_E_RANGE : 0;
}

static int64_t take(struct enc *e, uint64_t n, const uint8_t **p)
{
    if (n > e->bloblen - e->bi)
        return GXDR_E_ARGS;
    *p = e->blob + e->bi;
    e->bi += (size_t)n;
    return 0;
}

static int64_t put32(struct enc *e, uint32_t v)
{
    int64_t r = gxdr_put_u32(e->buf, e->cap, e->pos, v);
    if (r >= 0)
        e->pos = (size_t)r;
    return r;
}

static int64_t put64(struct enc *e, uint64_t v)
{
    int64_t r = gxdr_put_u64(e->buf, e->cap, e->pos, v);
    if (r >= 0)
        e->pos = (size_t)r;
    return r;
}

/* A string or opaque whose length is the next value and whose bytes are next in the blob. */
static int64_t put_blob_opaque(struct enc *e, uint32_t max)
{
    int64_t n, r;
    const uint8_t *p;
    TRY(next_in(e, 0, UINT32_MAX, &n));
    if ((uint64_t)n > max)
        return GXDR_E_TOO_LONG;
    TRY(take(e, (uint64_t)n, &p));
    r = gxdr_put_opaque(e->buf, e->cap, e->pos, p, (size_t)n, max);
    if (r >= 0)
        e->pos = (size_t)r;
    return r;
}

static int64_t dict_encode(struct enc *e)
{
    int64_t count, i;
    TRY(next_in(e, 0, UINT32_MAX, &count));
    if (count == 0)
        return 0;
    TRY(put32(e, (uint32_t)count));
    for (i = 0; i < count; i++) {
        int64_t kl, vl;
        const uint8_t *key, *val;
        uint8_t *dst;
        TRY(next_in(e, 0, UINT32_MAX - 1, &kl));
        TRY(next_in(e, 0, UINT32_MAX, &vl));
        TRY(take(e, (uint64_t)kl, &key));
        TRY(take(e, (uint64_t)vl, &val));
        if (memchr(key, 0, (size_t)kl) != NULL)
            return GXDR_E_BAD_DICT;
        if (e->pos > e->cap || (uint64_t)(e->cap - e->pos) < 9 + (uint64_t)kl + (uint64_t)vl)
            return GXDR_E_NO_SPACE;
        dst = e->buf + e->pos;
        wr32(dst, (uint32_t)kl);
        wr32(dst + 4, (uint32_t)vl);
        if (kl)
            memcpy(dst + 8, key, (size_t)kl);
        dst[8 + kl] = 0;
        if (vl)
            memcpy(dst + 9 + kl, val, (size_t)vl);
        e->pos += 9 + (size_t)kl + (size_t)vl;
    }
    return 0;
}

static int64_t body_encode(struct enc *e, int32_t msg)
{
    const char *item;

    if (msg == GXDR_MSG_RAW) {
        int64_t n;
        const uint8_t *p;
        TRY(next_in(e, 0, INT64_MAX, &n));
        TRY(take(e, (uint64_t)n, &p));
        if (e->pos > e->cap || (uint64_t)(e->cap - e->pos) < (uint64_t)n)
            return GXDR_E_NO_SPACE;
        if (n)
            memcpy(e->buf + e->pos, p, (size_t)n);
        e->pos += (size_t)n;
        return 0;
    }
    if (msg < 0 || msg >= GXDR_MSG_COUNT)
        return GXDR_E_ARGS;
    for (item = layouts[msg]; *item; item++) {
        int64_t v;
        switch (*item) {
        case 'I':
            TRY(next_in(e, 0, UINT32_MAX, &v));
            TRY(put32(e, (uint32_t)v));
            break;
        case 'i':
            TRY(next_in(e, INT32_MIN, INT32_MAX, &v));
            TRY(put32(e, (uint32_t)v));
            break;
        case 'Q':
            TRY(next_val(e, &v));
            TRY(put64(e, (uint64_t)v));
            break;
        case 's':
            TRY(put_blob_opaque(e, UINT32_MAX));
            break;
        case 'D': {
            size_t lenpos = e->pos;
            uint64_t n;
            TRY(put32(e, 0));
            TRY(dict_encode(e));
            n = e->pos - lenpos - 4;
            if (n > UINT32_MAX)
                return GXDR_E_TOO_LONG;
            wr32(e->buf + lenpos, (uint32_t)n);
            if (e->pos > e->cap || e->cap - e->pos < ((4 - (n & 3)) & 3))
                return GXDR_E_NO_SPACE;
            while (n & 3) {
                e->buf[e->pos++] = 0;
                n++;
            }
            break;
        }
        case 'd':
            TRY(dict_encode(e));
            break;
        case 'L': {
            int64_t count, i;
            TRY(next_in(e, 0, INT64_MAX, &count));
            for (i = 0; i < count; i++) {
                TRY(put32(e, 1));
                TRY(put_blob_opaque(e, UINT32_MAX));
                TRY(next_val(e, &v));
                TRY(put64(e, (uint64_t)v));
                TRY(next_val(e, &v));
                TRY(put64(e, (uint64_t)v));
            }
            TRY(put32(e, 0));
            break;
        }
        default:
            return GXDR_E_FORMAT;
        }
    }
    return 0;
}

/* Everything consumed, and the record mark in front once the length is known. */
static int64_t finish_encode(struct enc *e, int record)
{
    if (e->vi != e->nvals || e->bi != e->bloblen)
        return GXDR_E_ARGS;
    if (record) {
        size_t n = e->pos - 4;
        if (n > GXDR_MAX_FRAGMENT)
            return GXDR_E_RECORD_TOO_LARGE;
        wr32(e->buf, GXDR_LAST_FRAGMENT | (uint32_t)n);
    }
    return (int64_t)e->pos;
}

int64_t gxdr_encode_body(uint8_t *buf, size_t cap, const uint8_t *vals, size_t nvals,
                         const uint8_t *blob, size_t bloblen)
{
    struct enc e = {buf, cap, 0, vals, nvals, 0, blob, bloblen, 0};
    int64_t msg;
    TRY(next_in(&e, 0, GXDR_MSG_COUNT - 1, &msg));
    TRY(body_encode(&e, (int32_t)msg));
    return finish_encode(&e, 0);
}

int64_t gxdr_encode_call(uint8_t *buf, size_t cap, const uint8_t *vals, size_t nvals,
                         const uint8_t *blob, size_t bloblen)
{
    struct enc e = {buf, cap, 4, vals, nvals, 0, blob, bloblen, 0};
    int64_t msg, v;
    int i;

    if (cap < 4)
        return GXDR_E_NO_SPACE;
    TRY(next_in(&e, 0, GXDR_MSG_COUNT - 1, &msg));
    TRY(next_in(&e, 0, UINT32_MAX, &v)); /* xid */
    TRY(put32(&e, (uint32_t)v));
    TRY(put32(&e, RPC_CALL));
    for (i = 0; i < 5; i++) { /* rpcvers, prog, vers, proc, cred flavor */
        TRY(next_in(&e, 0, UINT32_MAX, &v));
        TRY(put32(&e, (uint32_t)v));
    }
    TRY(put_blob_opaque(&e, GXDR_MAX_AUTH));
    TRY(next_in(&e, 0, UINT32_MAX, &v)); /* verf flavor */
    TRY(put32(&e, (uint32_t)v));
    TRY(put_blob_opaque(&e, GXDR_MAX_AUTH));
    TRY(body_encode(&e, (int32_t)msg));
    return finish_encode(&e, 1);
}

int64_t gxdr_encode_reply(uint8_t *buf, size_t cap, const uint8_t *vals, size_t nvals,
                          const uint8_t *blob, size_t bloblen)
{
    struct enc e = {buf, cap, 4, vals, nvals, 0, blob, bloblen, 0};
    int64_t msg, xid, stat, detail, low, high, vflavor, vlen;

    if (cap < 4)
        return GXDR_E_NO_SPACE;
    TRY(next_in(&e, 0, GXDR_MSG_COUNT - 1, &msg));
    TRY(next_in(&e, 0, UINT32_MAX, &xid));
    TRY(next_in(&e, 0, 1, &stat));
    TRY(next_in(&e, 0, UINT32_MAX, &detail));
    TRY(next_in(&e, 0, UINT32_MAX, &low));
    TRY(next_in(&e, 0, UINT32_MAX, &high));
    TRY(next_in(&e, 0, UINT32_MAX, &vflavor));
    TRY(put32(&e, (uint32_t)xid));
    TRY(put32(&e, RPC_REPLY));
    TRY(put32(&e, (uint32_t)stat));
    if (stat == MSG_ACCEPTED) {
        if (detail > SYSTEM_ERR || (detail != SUCCESS && msg != GXDR_MSG_VOID))
            return GXDR_E_RANGE;
        TRY(put32(&e, (uint32_t)vflavor));
        TRY(put_blob_opaque(&e, GXDR_MAX_AUTH));
        TRY(put32(&e, (uint32_t)detail));
        if (detail == PROG_MISMATCH) {
            TRY(put32(&e, (uint32_t)low));
            TRY(put32(&e, (uint32_t)high));
        }
        if (detail == SUCCESS)
            TRY(body_encode(&e, (int32_t)msg));
    } else {
        TRY(next_in(&e, 0, 0, &vlen)); /* a denied reply carries no verifier */
        if (msg != GXDR_MSG_VOID || (detail != RPC_MISMATCH && detail != AUTH_ERROR))
            return GXDR_E_RANGE;
        TRY(put32(&e, (uint32_t)detail));
        TRY(put32(&e, (uint32_t)low));
        if (detail == RPC_MISMATCH)
            TRY(put32(&e, (uint32_t)high));
    }
    return finish_encode(&e, 1);
}
