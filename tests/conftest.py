"""Shared by the pytest suites under tests/: pytest puts this directory on sys.path, so their tests import the helpers
kept here (main_thread.py) by name."""
