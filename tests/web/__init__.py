"""Tests of intake/web/."""
