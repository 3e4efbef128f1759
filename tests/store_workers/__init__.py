"""Worker scripts that tests/test_store.py runs in subprocesses, and the helpers it uses."""
