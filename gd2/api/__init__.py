"""The wire contract shared by the REST server, its clients, gd2ctl and tests.

``gd2.api.routes`` is import-light (gd2ctl uses it); ``gd2.api.models`` holds
the pydantic models and is used by the server and tests.
"""
