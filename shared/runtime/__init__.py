"""Process-level code: how the servers run the apps (settings, hooks), beside ``shared/transports/``.

Nothing here is imported on a request's path.
"""
