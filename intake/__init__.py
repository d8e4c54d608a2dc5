"""intake: a secure intake service for human rights defenders at risk."""

__version__ = "0.1.0"


def create_app(test_config=None):
    """Build the web application (Flask is imported here, so the offline tool never loads it)."""
    from intake.web.app import build_app

    return build_app(test_config)


def forms_description() -> bytes:
    """The forms' questions, choices and countries for the offline tool (intake/web/describe.py)."""
    from intake.web import describe

    return describe.encode(describe.describe())


def proxy_page(status: int) -> bytes:
    """A page HAProxy gives when no node answers: 503 offline, 502 no answer (intake/web/errors.py)."""
    from intake.web import errors

    return errors.proxy_page(status)
