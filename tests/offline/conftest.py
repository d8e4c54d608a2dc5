"""The fixture the desk's tests share, beyond tests/conftest.py's."""

import pytest

from .helpers import World


@pytest.fixture
def world(defender, operator, secretariat, generation, tmp_path):
    """The real site, its operator and the secretariat's machine, one folder of requests between them."""
    return World(defender, operator, secretariat, generation, tmp_path)
