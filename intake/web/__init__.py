"""The web application: the only Flask code."""
