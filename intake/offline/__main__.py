"""Allow `python -m intake.offline`."""

import sys

from .cli import main

sys.exit(main())
