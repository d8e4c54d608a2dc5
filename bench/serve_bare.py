"""The baseline on exactly the service's server settings: `intake serve`'s gunicorn, the bare app."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from intake.server import settings
from intake.server.serve import Service


class Bare(Service):
    """The service's gunicorn and worker settings, serving bench/bare_app.py."""

    def load(self):
        """The bare Flask handlers instead of intake's app."""
        from bench.bare_app import app

        return app


if __name__ == "__main__":
    Bare(settings.load(os.environ)).run()
