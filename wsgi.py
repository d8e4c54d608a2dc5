"""The WSGI entry point, for a server of your own choosing. The service runs with `intake serve`
(docs/operator.md), which brings the settings the tests prove; prefer it."""

from intake import create_app

app = create_app()
