"""Tests of intake/server/."""
