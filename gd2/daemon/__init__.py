"""The glusterd2 daemon: composition root, start order, signals, readiness."""
