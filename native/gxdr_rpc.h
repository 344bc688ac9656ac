/*
 * ONC RPC (RFC 5531) messages of the GlusterFS management plane, one foreign call per message.
 *
 * A whole record (RPC header and procedure body) is decoded into an array of uint64_t "slots" or
 * encoded from an array of int64_t "values" plus one blob holding every byte string, so that the
 * Python facade (gd2/xdr/rpc.py, gd2/xdr/messages.py) pays for one cffi call per message instead of
 * one per item. The layouts below are the contract between this file and that facade.
 *
 * Bodies (gxdr_msg) are sequences of items:
 *   I unsigned int   i int   Q unsigned hyper   s string<>
 *   D a glusterfs dict inside an opaque<> (GLUSTER_PROTOCOL.md section 5; length 0 = empty dict)
 *   d a bare glusterfs dict spanning the rest of the buffer
 *   L the gf_prog_detail linked list of a DUMP reply
 * Decoded slots per item: I/i/Q one (i sign-extended); s two (offset, length); D/d one (pair count)
 * then four per pair (key offset, key length, value offset, value length); L one (entry count) then
 * four per entry (name offset, name length, prognum, progver). Offsets are into the decoded buffer.
 * Encode values per item: I/i/Q one; s one (length); D/d one (pair count) then two per pair (key
 * length, value length); L one (entry count) then three per entry (name length, prognum, progver).
 * The blob holds the bytes of every s item, dict key and value (key then value), and list name, in
 * order. D/d keys are NUL-free and followed by a NUL on the wire; D and d with no pairs encode as
 * nothing (zero-length opaque for D). Every decode must consume its buffer exactly.
 *
 * Values are passed as native-endian int64_t packed in bytes (Python's struct "=q"), which cffi
 * hands over without converting a list element by element.
 */
#ifndef GD2_GXDR_RPC_H
#define GD2_GXDR_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "xdr_codec.h"

/* Largest body of a credential or verifier (RFC 5531 opaque_auth). */
#define GXDR_MAX_AUTH 400

enum gxdr_msg {
    GXDR_MSG_VOID = 0, /* no body */
    GXDR_MSG_RAW,      /* body bytes passed through untouched (unknown procedures) */
    GXDR_MSG_DICT,     /* "d": a bare serialized dict */
    GXDR_MSG_DUMP_REQ, /* "Q" gf_dump_req */
    GXDR_MSG_DUMP_RSP, /* "QiiL" gf_dump_rsp */
    GXDR_MSG_COMMON_RSP,          /* "iiD" gf_common_rsp */
    GXDR_MSG_GETSPEC_REQ,         /* "IsD" gf_getspec_req */
    GXDR_MSG_GETSPEC_RSP,         /* "iisD" gf_getspec_rsp */
    GXDR_MSG_EVENT_NOTIFY_REQ,    /* "iD" gf_event_notify_req */
    GXDR_MSG_EVENT_NOTIFY_RSP,    /* "iiD" gf_event_notify_rsp */
    GXDR_MSG_GET_VOLUME_INFO_REQ, /* "D" gf_get_volume_info_req */
    GXDR_MSG_GET_VOLUME_INFO_RSP, /* "iisD" gf_get_volume_info_rsp */
    GXDR_MSG_PORTBYBRICK_REQ,     /* "s" pmap_port_by_brick_req */
    GXDR_MSG_PORTBYBRICK_RSP,     /* "iiii" pmap_port_by_brick_rsp */
    GXDR_MSG_SIGNIN_REQ,          /* "sii" pmap_signin_req */
    GXDR_MSG_SIGNIN_RSP,          /* "ii" pmap_signin_rsp */
    GXDR_MSG_SIGNOUT_REQ,         /* "sii" pmap_signout_req */
    GXDR_MSG_SIGNOUT_RSP,         /* "ii" pmap_signout_rsp */
    GXDR_MSG_COUNT
};

/* Slots of gxdr_decode_call; the argument slots follow from GXDR_CALL_SLOTS. */
enum gxdr_call_slot {
    GXDR_CALL_XID = 0,
    GXDR_CALL_RPCVERS,
    GXDR_CALL_PROG,
    GXDR_CALL_VERS,
    GXDR_CALL_PROC,
    GXDR_CALL_CRED_FLAVOR,
    GXDR_CALL_CRED_OFF,
    GXDR_CALL_CRED_LEN,
    GXDR_CALL_VERF_FLAVOR,
    GXDR_CALL_VERF_OFF,
    GXDR_CALL_VERF_LEN,
    GXDR_CALL_ARGS_OFF,    /* where the procedure arguments start */
    GXDR_CALL_ARGS_MSG,    /* the gxdr_msg they were decoded as (RAW: not decoded) */
    GXDR_CALL_ARGS_STATUS, /* 0, or the gxdr_status that made them undecodable */
    GXDR_CALL_SLOTS
};

/* Slots of gxdr_decode_reply; the result slots follow from GXDR_REPLY_SLOTS. */
enum gxdr_reply_slot {
    GXDR_REPLY_XID = 0,
    GXDR_REPLY_STAT,        /* reply_stat: 0 MSG_ACCEPTED, 1 MSG_DENIED */
    GXDR_REPLY_DETAIL,      /* accept_stat when accepted, reject_stat when denied */
    GXDR_REPLY_LOW,         /* PROG_MISMATCH / RPC_MISMATCH low; auth_stat for AUTH_ERROR */
    GXDR_REPLY_HIGH,        /* PROG_MISMATCH / RPC_MISMATCH high */
    GXDR_REPLY_VERF_FLAVOR, /* accepted replies only */
    GXDR_REPLY_VERF_OFF,
    GXDR_REPLY_VERF_LEN,
    GXDR_REPLY_BODY_OFF,    /* where the results start (SUCCESS) */
    GXDR_REPLY_SLOTS
};

/*
 * Decode a CALL record payload (no record mark). The header is checked strictly (msg_type CALL,
 * credential and verifier bodies of at most GXDR_MAX_AUTH bytes); a bad header is a negative
 * return. With rpcvers other than 2 nothing past rpcvers is read: prog, vers and proc are 0 and
 * the arguments are RAW. Otherwise the arguments of the GlusterFS procedures this codec knows
 * (GF-DUMP, handshake, portmap, the FETCHSPEC callback) are decoded; arguments that do not decode
 * leave GXDR_CALL_ARGS_STATUS negative and GXDR_CALL_ARGS_MSG at the message they failed as.
 * Returns the number of slots written. nout must be at least GXDR_CALL_SLOTS; when the arguments
 * need more slots than nout, returns GXDR_E_NO_SPACE with out[0] = the slots needed.
 */
int64_t gxdr_decode_call(const uint8_t *buf, size_t len, uint64_t *out, size_t nout);

/*
 * Decode a REPLY record payload whose SUCCESS results are message msg. Returns the number of slots
 * written (results only for SUCCESS), or a negative status; GXDR_E_NO_SPACE as for calls.
 */
int64_t gxdr_decode_reply(const uint8_t *buf, size_t len, int32_t msg, uint64_t *out,
                          size_t nout);

/* Decode a bare message body filling buf[pos:len]; slots and GXDR_E_NO_SPACE as above. */
int64_t gxdr_decode_body(const uint8_t *buf, size_t len, size_t pos, int32_t msg, uint64_t *out,
                         size_t nout);

/*
 * Encode a whole CALL record, record mark included (one last fragment). Values: msg, xid,
 * rpcvers, prog, vers, proc, cred flavor, cred length, verf flavor, verf length, then the body's
 * values; the blob starts with the cred and verf bodies. Returns the bytes written.
 */
int64_t gxdr_encode_call(uint8_t *buf, size_t cap, const uint8_t *vals, size_t nvals,
                         const uint8_t *blob, size_t bloblen);

/*
 * Encode a whole REPLY record, record mark included. Values: msg, xid, reply_stat, detail
 * (accept_stat or reject_stat), low, high, verf flavor, verf length, then the body's values (only
 * for SUCCESS; msg must be VOID otherwise); the blob starts with the verf body. low/high are
 * written for PROG_MISMATCH and RPC_MISMATCH, low alone (auth_stat) for AUTH_ERROR. A denied
 * reply has no verifier on the wire, so its verf must be empty. Returns the bytes written.
 */
int64_t gxdr_encode_reply(uint8_t *buf, size_t cap, const uint8_t *vals, size_t nvals,
                          const uint8_t *blob, size_t bloblen);

/* Encode a bare body (values: msg, then the body's values). Returns the bytes written. */
int64_t gxdr_encode_body(uint8_t *buf, size_t cap, const uint8_t *vals, size_t nvals,
                         const uint8_t *blob, size_t bloblen);

#endif /* GD2_GXDR_RPC_H */
