"""intake tests."""
