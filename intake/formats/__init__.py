"""The formats: standard library and PyNaCl only, nothing else of intake's."""
