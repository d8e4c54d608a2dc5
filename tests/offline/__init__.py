"""Tests of intake/offline/."""
