"""Protobuf messages of the plugin protocol, generated at build time from protos/plugin.proto.

Only :mod:`gd2.plugins.wire` imports them; see protos/README.md.
"""
