"""Tests of intake/formats/."""
