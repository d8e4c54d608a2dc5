"""The data folder: made once by the service, owner-only, and required by every operator command.

A command typed without the service's settings must not export "0 entries" from a folder that
does not exist, or import into one the site never reads: it is refused, and nothing is made.
"""

import contextlib
import os
from pathlib import Path

from intake.formats.durable import make_dir, write_atomic

MARKER = "intake-data-folder"  # written by the service on its first start
MARKER_TEXT = b"intake data folder, layout 1\n"


class DataFolderError(Exception):
    """The data folder is missing or was never made by the service; nothing was touched."""


def initialise(data_dir: Path) -> None:
    """Make the data folder (owner-only) and its marker, if this is the service's first start."""
    data_dir = Path(data_dir)
    if (data_dir / MARKER).is_file():
        return
    make_dir(data_dir)
    with contextlib.suppress(FileExistsError):  # another worker made it at the same moment
        write_atomic(data_dir / MARKER, MARKER_TEXT, replace=False)


def require(data_dir: Path, source: Path | None) -> None:
    """Refuse, with one line that says where the setting comes from, unless the service made `data_dir`."""
    data_dir = Path(data_dir)
    if (data_dir / MARKER).is_file():
        return
    where = f"the settings file {source}" if source else "INTAKE_DATA_DIR (no settings file was found)"
    if not data_dir.exists():
        problem = "does not exist"
    elif not os.access(data_dir, os.X_OK):
        problem = "cannot be read by this account"
    else:
        problem = "was never set up by `intake serve`"
    raise DataFolderError(
        f"the data folder {data_dir} {problem}; check {where}, or start the service once to set it up"
    )
