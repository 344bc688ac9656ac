/*
 * XDR primitives, a format-driven codec and record marking. See xdr_codec.h for the contract.
 *
 * Bounds are checked as "cap - pos < need" after checking pos <= cap, never as "pos + need > cap",
 * so that no length read off the wire can overflow the comparison.
 */
#include "xdr_codec.h"

#include <string.h>

static const uint8_t zeros[4];

static inline void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint32_t rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline uint64_t pad4(uint64_t n)
{
    return (4u - (n & 3u)) & 3u;
}

/* Room for need bytes at pos; need is 64-bit so that a padded 32-bit length cannot wrap. */
static inline int has_room(size_t cap, size_t pos, uint64_t need)
{
    return pos <= cap && (uint64_t)(cap - pos) >= need;
}

/* ---- primitives: encode ------------------------------------------------------------------------ */

int64_t gxdr_put_u32(uint8_t *buf, size_t cap, size_t pos, uint32_t v)
{
    if (!has_room(cap, pos, 4))
        return GXDR_E_NO_SPACE;
    wr32(buf + pos, v);
    return (int64_t)(pos + 4);
}

int64_t gxdr_put_i32(uint8_t *buf, size_t cap, size_t pos, int32_t v)
{
    return gxdr_put_u32(buf, cap, pos, (uint32_t)v);
}

int64_t gxdr_put_u64(uint8_t *buf, size_t cap, size_t pos, uint64_t v)
{
    if (!has_room(cap, pos, 8))
        return GXDR_E_NO_SPACE;
    wr32(buf + pos, (uint32_t)(v >> 32));
    wr32(buf + pos + 4, (uint32_t)v);
    return (int64_t)(pos + 8);
}

int64_t gxdr_put_i64(uint8_t *buf, size_t cap, size_t pos, int64_t v)
{
    return gxdr_put_u64(buf, cap, pos, (uint64_t)v);
}

int64_t gxdr_put_bool(uint8_t *buf, size_t cap, size_t pos, uint32_t v)
{
    if (v > 1)
        return GXDR_E_RANGE;
    return gxdr_put_u32(buf, cap, pos, v);
}

/* Caller has checked the room for n + padding. */
static void write_padded(uint8_t *dst, const uint8_t *data, size_t n)
{
    if (n)
        memcpy(dst, data, n);
    memcpy(dst + n, zeros, (size_t)pad4(n));
}

int64_t gxdr_put_fixed(uint8_t *buf, size_t cap, size_t pos, const uint8_t *data, size_t n)
{
    if (!has_room(cap, pos, (uint64_t)n + pad4(n)))
        return GXDR_E_NO_SPACE;
    write_padded(buf + pos, data, n);
    return (int64_t)(pos + n + pad4(n));
}

int64_t gxdr_put_opaque(uint8_t *buf, size_t cap, size_t pos, const uint8_t *data, size_t n,
                        uint32_t max)
{
    if ((uint64_t)n > max)
        return GXDR_E_TOO_LONG;
    if (!has_room(cap, pos, 4 + (uint64_t)n + pad4(n)))
        return GXDR_E_NO_SPACE;
    wr32(buf + pos, (uint32_t)n);
    write_padded(buf + pos + 4, data, n);
    return (int64_t)(pos + 4 + n + pad4(n));
}

/* ---- primitives: decode ------------------------------------------------------------------------ */

int64_t gxdr_get_u32(const uint8_t *buf, size_t len, size_t pos, uint32_t *out)
{
    if (!has_room(len, pos, 4))
        return GXDR_E_TRUNCATED;
    *out = rd32(buf + pos);
    return (int64_t)(pos + 4);
}

int64_t gxdr_get_i32(const uint8_t *buf, size_t len, size_t pos, int32_t *out)
{
    uint32_t u;
    int64_t r = gxdr_get_u32(buf, len, pos, &u);
    if (r >= 0)
        *out = (int32_t)u; /* two's complement on every platform C11 compilers target here */
    return r;
}

int64_t gxdr_get_u64(const uint8_t *buf, size_t len, size_t pos, uint64_t *out)
{
    if (!has_room(len, pos, 8))
        return GXDR_E_TRUNCATED;
    *out = ((uint64_t)rd32(buf + pos) << 32) | rd32(buf + pos + 4);
    return (int64_t)(pos + 8);
}

int64_t gxdr_get_i64(const uint8_t *buf, size_t len, size_t pos, int64_t *out)
{
    uint64_t u;
    int64_t r = gxdr_get_u64(buf, len, pos, &u);
    if (r >= 0)
        *out = (int64_t)u;
    return r;
}

int64_t gxdr_get_bool(const uint8_t *buf, size_t len, size_t pos, uint32_t *out)
{
    uint32_t u;
    int64_t r = gxdr_get_u32(buf, len, pos, &u);
    if (r < 0)
        return r;
    if (u > 1)
        return GXDR_E_BAD_BOOL;
    *out = u;
    return r;
}

/*
 * Padding is not checked on decode: RFC 4506 only requires senders to zero it, and neither glibc's
 * nor GlusterFS's XDR readers look at it, so a strict check would only refuse peers they accept.
 */
int64_t gxdr_get_fixed(const uint8_t *buf, size_t len, size_t pos, size_t n, size_t *off)
{
    (void)buf;
    if (!has_room(len, pos, (uint64_t)n + pad4(n)))
        return GXDR_E_TRUNCATED;
    *off = pos;
    return (int64_t)(pos + n + pad4(n));
}

int64_t gxdr_get_opaque(const uint8_t *buf, size_t len, size_t pos, uint32_t max, size_t *off,
                        uint32_t *n)
{
    uint32_t m;
    int64_t r = gxdr_get_u32(buf, len, pos, &m);
    if (r < 0)
        return r;
    if (m > max)
        return GXDR_E_TOO_LONG;
    if (!has_room(len, (size_t)r, (uint64_t)m + pad4(m)))
        return GXDR_E_TRUNCATED;
    *off = (size_t)r;
    *n = m;
    return (int64_t)((size_t)r + m + pad4(m));
}

/* ---- format strings ---------------------------------------------------------------------------- */

struct item {
    char kind;    /* I i Q q ? o f s */
    uint32_t arg; /* bound of o/s, length of f */
};

/* Parses one decimal bound up to 0xffffffff; returns 0 on success. */
static int parse_bound(const char **p, char close, int required, uint32_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    int digits = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > UINT32_MAX)
            return -1;
        s++;
        digits++;
    }
    if (*s != close || (required && !digits))
        return -1;
    *out = digits ? (uint32_t)v : UINT32_MAX;
    *p = s + 1;
    return 0;
}

/* Returns 1 with *it filled, 0 at the end of fmt, GXDR_E_FORMAT on a malformed item. */
static int next_item(const char **fmt, struct item *it)
{
    const char *p = *fmt;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0') {
        *fmt = p;
        return 0;
    }
    it->kind = *p++;
    it->arg = UINT32_MAX;
    switch (it->kind) {
    case 'I': case 'i': case 'Q': case 'q': case '?':
        break;
    case 'o':
        if (*p == '[') {
            p++;
            if (parse_bound(&p, ']', 1, &it->arg))
                return GXDR_E_FORMAT;
            it->kind = 'f';
            break;
        }
        /* fall through */
    case 's':
        if (*p == '<') {
            p++;
            if (parse_bound(&p, '>', 0, &it->arg))
                return GXDR_E_FORMAT;
        }
        break;
    default:
        return GXDR_E_FORMAT;
    }
    *fmt = p;
    return 1;
}

int64_t gxdr_format_compile(const char *fmt, uint8_t *kinds, uint32_t *args, size_t cap)
{
    struct item it;
    size_t n = 0;
    int r;
    while ((r = next_item(&fmt, &it)) == 1) {
        if (n == cap)
            return GXDR_E_FORMAT;
        kinds[n] = (uint8_t)it.kind;
        args[n] = it.arg;
        n++;
    }
    return r < 0 ? r : (int64_t)n;
}

/* Size of an item's encoding once its value is validated; a negative status if it is invalid. */
static int64_t item_size(const struct item *it, uint64_t v)
{
    switch (it->kind) {
    case 'I':
        return v > UINT32_MAX ? GXDR_E_RANGE : 4;
    case '?':
        return v > 1 ? GXDR_E_RANGE : 4;
    case 'i': {
        int64_t s = (int64_t)v;
        return (s < INT32_MIN || s > INT32_MAX) ? GXDR_E_RANGE : 4;
    }
    case 'Q': case 'q':
        return 8;
    case 'f':
        return v != it->arg ? GXDR_E_FIXED_LENGTH : (int64_t)(v + pad4(v));
    default: /* o, s */
        return v > it->arg ? GXDR_E_TOO_LONG : (int64_t)(4 + v + pad4(v));
    }
}

int64_t gxdr_pack(uint8_t *buf, size_t cap, size_t pos, const char *fmt, const uint64_t *vals,
                  size_t nvals, const uint8_t *blob, size_t bloblen, size_t *needed)
{
    struct item it;
    const char *p = fmt;
    size_t k = 0;
    uint64_t total = 0, blob_used = 0;
    int r;

    /* Pass 1 validates everything and sizes the output, so a failed call writes nothing. */
    while ((r = next_item(&p, &it)) == 1) {
        int64_t size;
        if (k == nvals)
            return GXDR_E_ARGS;
        size = item_size(&it, vals[k]);
        if (size < 0)
            return size;
        if (it.kind == 'o' || it.kind == 's' || it.kind == 'f') {
            if (vals[k] > bloblen - blob_used)
                return GXDR_E_ARGS;
            blob_used += vals[k];
        }
        total += (uint64_t)size;
        k++;
    }
    if (r < 0)
        return r;
    if (k != nvals || blob_used != bloblen)
        return GXDR_E_ARGS;
    if (!has_room(cap, pos, total)) {
        if (needed)
            *needed = pos <= cap ? pos + (size_t)total : SIZE_MAX;
        return GXDR_E_NO_SPACE;
    }

    p = fmt;
    k = 0;
    blob_used = 0;
    while (next_item(&p, &it) == 1) {
        uint8_t *dst = buf + pos;
        uint64_t v = vals[k++];
        switch (it.kind) {
        case 'I': case 'i': case '?':
            wr32(dst, (uint32_t)v);
            pos += 4;
            break;
        case 'Q': case 'q':
            wr32(dst, (uint32_t)(v >> 32));
            wr32(dst + 4, (uint32_t)v);
            pos += 8;
            break;
        case 'f':
            write_padded(dst, blob + blob_used, (size_t)v);
            blob_used += v;
            pos += (size_t)(v + pad4(v));
            break;
        default:
            wr32(dst, (uint32_t)v);
            write_padded(dst + 4, blob + blob_used, (size_t)v);
            blob_used += v;
            pos += (size_t)(4 + v + pad4(v));
            break;
        }
    }
    return (int64_t)pos;
}

int64_t gxdr_unpack(const uint8_t *buf, size_t len, size_t pos, const char *fmt, uint64_t *out,
                    size_t nout)
{
    struct item it;
    size_t k = 0;
    int64_t r;
    int more;

    if (pos > len)
        return GXDR_E_TRUNCATED;
    while ((more = next_item(&fmt, &it)) == 1) {
        size_t slots = (it.kind == 'o' || it.kind == 's' || it.kind == 'f') ? 2 : 1;
        if (nout - k < slots)
            return GXDR_E_ARGS;
        switch (it.kind) {
        case 'I': {
            uint32_t v = 0;
            r = gxdr_get_u32(buf, len, pos, &v);
            out[k] = v;
            break;
        }
        case 'i': {
            int32_t v = 0;
            r = gxdr_get_i32(buf, len, pos, &v);
            out[k] = (uint64_t)(int64_t)v;
            break;
        }
        case '?': {
            uint32_t v = 0;
            r = gxdr_get_bool(buf, len, pos, &v);
            out[k] = v;
            break;
        }
        case 'Q': case 'q':
            r = gxdr_get_u64(buf, len, pos, &out[k]);
            break;
        case 'f': {
            size_t off = 0;
            r = gxdr_get_fixed(buf, len, pos, it.arg, &off);
            out[k] = off;
            out[k + 1] = it.arg;
            break;
        }
        default: {
            size_t off = 0;
            uint32_t n = 0;
            r = gxdr_get_opaque(buf, len, pos, it.arg, &off, &n);
            out[k] = off;
            out[k + 1] = n;
            break;
        }
        }
        if (r < 0)
            return r;
        pos = (size_t)r;
        k += slots;
    }
    return more < 0 ? more : (int64_t)pos;
}

/* ---- record marking ---------------------------------------------------------------------------- */

uint64_t gxdr_record_size(uint64_t len, uint32_t max_frag)
{
    uint64_t frags;
    if (max_frag == 0 || max_frag > GXDR_MAX_FRAGMENT)
        return 0;
    frags = len == 0 ? 1 : (len + max_frag - 1) / max_frag;
    return len + 4 * frags;
}

int64_t gxdr_record_encode(uint8_t *out, size_t cap, const uint8_t *payload, size_t len,
                           uint32_t max_frag)
{
    uint64_t need = gxdr_record_size(len, max_frag);
    size_t pos = 0, done = 0;
    if (need == 0)
        return GXDR_E_RANGE;
    if (!has_room(cap, 0, need))
        return GXDR_E_NO_SPACE;
    do {
        size_t n = len - done < max_frag ? len - done : max_frag;
        int last = done + n == len;
        wr32(out + pos, (uint32_t)n | (last ? GXDR_LAST_FRAGMENT : 0));
        if (n)
            memcpy(out + pos + 4, payload + done, n);
        pos += 4 + n;
        done += n;
    } while (done < len);
    return (int64_t)pos;
}

void gxdr_reasm_init(gxdr_reasm *r, uint64_t max_record)
{
    memset(r, 0, sizeof *r);
    r->max_record = max_record;
}

int gxdr_reasm_idle(const gxdr_reasm *r)
{
    return !r->started;
}

static void end_record(gxdr_reasm *r)
{
    r->record_len = 0;
    r->hdr_fill = 0;
    r->started = 0;
}

int64_t gxdr_reasm_scan(gxdr_reasm *r, const uint8_t *chunk, size_t len, size_t pos,
                        uint64_t *spans, size_t max_spans)
{
    size_t k = 0;

    r->pos = pos;
    if (r->error)
        return r->error;
    if (pos > len)
        return GXDR_E_ARGS;
    while (pos < len && k < max_spans) {
        if (r->hdr_fill < 4) {
            uint32_t h, n;
            r->started = 1;
            while (r->hdr_fill < 4 && pos < len)
                r->hdr[r->hdr_fill++] = chunk[pos++];
            if (r->hdr_fill < 4)
                break;
            h = rd32(r->hdr);
            n = h & GXDR_MAX_FRAGMENT;
            r->last = (h & GXDR_LAST_FRAGMENT) != 0;
            if (n > r->max_record - r->record_len) {
                r->error = GXDR_E_RECORD_TOO_LARGE;
                r->pos = pos;
                return r->error;
            }
            r->record_len += n;
            r->frag_left = n;
            if (n == 0) {
                /* An empty fragment carries no bytes; an empty last one still ends a record. */
                if (r->last) {
                    spans[3 * k] = pos;
                    spans[3 * k + 1] = 0;
                    spans[3 * k + 2] = 1;
                    k++;
                    end_record(r);
                } else {
                    r->hdr_fill = 0;
                }
                continue;
            }
        }
        if (pos == len)
            break;
        {
            size_t avail = len - pos;
            size_t n = avail < r->frag_left ? avail : r->frag_left;
            int ends = n == r->frag_left && r->last;
            spans[3 * k] = pos;
            spans[3 * k + 1] = n;
            spans[3 * k + 2] = (uint64_t)ends;
            k++;
            pos += n;
            r->frag_left -= (uint32_t)n;
            if (r->frag_left == 0) {
                if (ends)
                    end_record(r);
                else
                    r->hdr_fill = 0;
            }
        }
    }
    r->pos = pos;
    return (int64_t)k;
}
