"""The server, without Flask: settings, accepting a request, storage, limits, import, the `intake` command."""
