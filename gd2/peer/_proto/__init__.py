"""Protobuf messages of the peer protocol, generated at build time from protos/peer.proto.

Only :mod:`gd2.peer._wire` imports them; see protos/README.md.
"""
