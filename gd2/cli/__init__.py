"""gd2ctl: the command-line client of glusterd2.

Kept import-light on purpose (it runs once per admin command): stdlib
``_socket`` and ``json`` plus ``gd2.api.routes``, nothing heavier.
"""
