"""The secretariat's offline side: standard library, PyNaCl and intake's Flask-free modules only."""
