"""``python -m libstore``: the ``libstore`` command line."""

from libstore.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
