"""Allow `python -m intake.offline`."""

import sys

from intake.offline.cli import main

sys.exit(main())
