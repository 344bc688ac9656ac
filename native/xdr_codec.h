/*
 * XDR (RFC 4506) primitives and RFC 5531 record marking for glusterd2.
 *
 * Everything works on caller-provided buffers: no I/O, no allocation. Encode functions take
 * (buf, cap, pos) and return the new position; decode functions take (buf, len, pos) and return the
 * new position. A negative return value is a gxdr_status. No function reads or writes outside
 * [buf, buf + cap) / [buf, buf + len), whatever the input.
 *
 * Names carry the gxdr_ prefix so they cannot interpose with the sunrpc xdr_* symbols of libc.
 */
#ifndef GD2_XDR_CODEC_H
#define GD2_XDR_CODEC_H

#include <stddef.h>
#include <stdint.h>

enum gxdr_status {
    GXDR_OK = 0,
    GXDR_E_TRUNCATED = -1,   /* decode: the input ends before the item does */
    GXDR_E_TOO_LONG = -2,    /* a length is over the declared maximum */
    GXDR_E_BAD_BOOL = -3,    /* decode: a bool that is neither 0 nor 1 */
    GXDR_E_RANGE = -4,       /* encode: a value does not fit its XDR type */
    GXDR_E_NO_SPACE = -5,    /* encode: the output buffer is too small */
    GXDR_E_FORMAT = -6,      /* a malformed format string */
    GXDR_E_ARGS = -7,        /* the value arrays do not match the format */
    GXDR_E_RECORD_TOO_LARGE = -8, /* record marking: a record over the maximum size */
    GXDR_E_FIXED_LENGTH = -9, /* encode: fixed opaque of the wrong length */
    GXDR_E_TRAILING = -10,   /* decode: bytes left after the message */
    GXDR_E_BAD_MSG = -11,    /* an RPC header that is not the expected CALL/REPLY form */
    GXDR_E_BAD_DICT = -12    /* a glusterfs dict that breaks its own framing */
};

/* Largest fragment length a record-marking header can carry (31 bits). */
#define GXDR_MAX_FRAGMENT 0x7fffffffu
#define GXDR_LAST_FRAGMENT 0x80000000u

/* ---- primitives: encode ------------------------------------------------------------------------ */

int64_t gxdr_put_u32(uint8_t *buf, size_t cap, size_t pos, uint32_t v);
int64_t gxdr_put_i32(uint8_t *buf, size_t cap, size_t pos, int32_t v);
int64_t gxdr_put_u64(uint8_t *buf, size_t cap, size_t pos, uint64_t v);
int64_t gxdr_put_i64(uint8_t *buf, size_t cap, size_t pos, int64_t v);
/* v must be 0 or 1 (GXDR_E_RANGE otherwise). */
int64_t gxdr_put_bool(uint8_t *buf, size_t cap, size_t pos, uint32_t v);
/* opaque[n]: the bytes and zero padding to a multiple of 4, no length. */
int64_t gxdr_put_fixed(uint8_t *buf, size_t cap, size_t pos, const uint8_t *data, size_t n);
/* opaque<max> and string<max>: u32 length, the bytes, zero padding. */
int64_t gxdr_put_opaque(uint8_t *buf, size_t cap, size_t pos, const uint8_t *data, size_t n,
                        uint32_t max);

/* ---- primitives: decode ------------------------------------------------------------------------ */

int64_t gxdr_get_u32(const uint8_t *buf, size_t len, size_t pos, uint32_t *out);
int64_t gxdr_get_i32(const uint8_t *buf, size_t len, size_t pos, int32_t *out);
int64_t gxdr_get_u64(const uint8_t *buf, size_t len, size_t pos, uint64_t *out);
int64_t gxdr_get_i64(const uint8_t *buf, size_t len, size_t pos, int64_t *out);
int64_t gxdr_get_bool(const uint8_t *buf, size_t len, size_t pos, uint32_t *out);
/* Zero-copy: the n data bytes start at buf + *off. */
int64_t gxdr_get_fixed(const uint8_t *buf, size_t len, size_t pos, size_t n, size_t *off);
int64_t gxdr_get_opaque(const uint8_t *buf, size_t len, size_t pos, uint32_t max, size_t *off,
                        uint32_t *n);

/* ---- format-driven encode/decode ---------------------------------------------------------------
 *
 * One call encodes or decodes a whole sequence of items, so a message costs one foreign call.
 * Format items (spaces and tabs are ignored):
 *   I  unsigned int        i  int          Q  unsigned hyper     q  hyper        ?  bool
 *   o  opaque<>            o<N> opaque<N>  o[N] opaque[N] (fixed)
 *   s  string<>            s<N> string<N>
 */

/*
 * Parse fmt. kinds[k] gets the item letter ('f' for a fixed opaque) and args[k] its bound (N, or
 * 0xffffffff when absent). Returns the number of items, or GXDR_E_FORMAT (also when there are more
 * than cap items).
 */
int64_t gxdr_format_compile(const char *fmt, uint8_t *kinds, uint32_t *args, size_t cap);

/*
 * Encode the items of fmt at buf + pos. vals has one entry per item, in format order: the value of
 * I, Q and ?; the two's complement of i and q; the length of o and s, whose bytes are concatenated
 * in blob. The counts must match the format exactly. Nothing is written unless every item is valid
 * and fits; on GXDR_E_NO_SPACE, *needed (if not NULL) gets the capacity the call needs.
 */
int64_t gxdr_pack(uint8_t *buf, size_t cap, size_t pos, const char *fmt, const uint64_t *vals,
                  size_t nvals, const uint8_t *blob, size_t bloblen, size_t *needed);

/*
 * Decode the items of fmt from buf + pos into out, in format order: one slot per integer or bool
 * (signed values as their two's complement), two slots (offset in buf, length) per opaque or
 * string. Returns the new position, or a negative status (GXDR_E_ARGS when out is too small).
 */
int64_t gxdr_unpack(const uint8_t *buf, size_t len, size_t pos, const char *fmt, uint64_t *out,
                    size_t nout);

/* ---- record marking (RFC 5531 section 11) ------------------------------------------------------ */

/* Size of payload once split into fragments of at most max_frag bytes, headers included. */
uint64_t gxdr_record_size(uint64_t len, uint32_t max_frag);
/*
 * Write payload as a record of fragments of at most max_frag bytes (1..GXDR_MAX_FRAGMENT), the
 * last one flagged. An empty payload is one empty last fragment. Returns the bytes written.
 */
int64_t gxdr_record_encode(uint8_t *out, size_t cap, const uint8_t *payload, size_t len,
                           uint32_t max_frag);

/*
 * Incremental record reassembly. The reassembler does not hold record bytes: it reports where the
 * payload lies in each chunk and the caller copies it, so no buffer is ever sized from a length
 * read off the wire. A fragment header that would take a record past max_record is an error as
 * soon as the header is complete, before any of that fragment arrives.
 */
typedef struct gxdr_reasm {
    uint64_t max_record;
    uint64_t record_len;  /* payload bytes announced so far for the current record */
    uint32_t frag_left;   /* bytes of the current fragment body not yet seen */
    uint8_t hdr[4];
    uint8_t hdr_fill;     /* header bytes seen; 4 while inside a fragment body */
    uint8_t last;         /* the current fragment ends its record */
    int8_t error;         /* sticky status once the stream is broken */
    uint8_t started;      /* some bytes of the current record (headers included) were seen */
    size_t pos;           /* where the last gxdr_reasm_scan stopped in its chunk */
} gxdr_reasm;

void gxdr_reasm_init(gxdr_reasm *r, uint64_t max_record);

/*
 * Scan chunk[pos:len]. Each payload piece found is written to spans as three values: offset in
 * chunk, length, and 1 if the piece ends a record (0 otherwise). Returns the number of pieces
 * written, or a negative status. Scanning stops at the end of the chunk or once max_spans pieces
 * are written (so a return value below max_spans means the chunk was consumed); r->pos tells
 * where.
 */
int64_t gxdr_reasm_scan(gxdr_reasm *r, const uint8_t *chunk, size_t len, size_t pos,
                        uint64_t *spans, size_t max_spans);

/* 1 when the stream is between records (nothing of a next record seen yet). */
int gxdr_reasm_idle(const gxdr_reasm *r);

#endif /* GD2_XDR_CODEC_H */
