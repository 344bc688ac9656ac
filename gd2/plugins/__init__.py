"""Sub-process plugins over gRPC (docs/plugins.md).

- :mod:`gd2.plugins.handshake`, :mod:`gd2.plugins.manifest`: the handshake line, probes,
  dependency and version checks (pure).
- :mod:`gd2.plugins.wire`: protobuf messages <-> dataclasses.
- :mod:`gd2.plugins.backend`: runs a plugin as a child process (a DaemonBackend).
- :mod:`gd2.plugins.host`: discovery, supervision, contributions, REST forwarding, events.
- :mod:`gd2.plugins.daemons`: the daemons plugins ask for, for started volumes with local bricks.
- :mod:`gd2.plugins.sdk`: for plugin authors; the only module a plugin imports.

Nothing here is imported by the SDK's users except :mod:`gd2.plugins.sdk` and what it needs.
"""
