"""Sphinx configuration for libstore's documentation.

``sphinx-build -W -b html docs docs/_build/html`` builds the site and
``sphinx-build -W -b doctest docs docs/_build/doctest`` runs every ``testcode``/``doctest``
example in it against the embedded local driver (``tox -e docs`` does both).
"""

import sys
from pathlib import Path

_DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(_DOCS.parent))
sys.path.insert(0, str(_DOCS / "_ext"))

project = "libstore"
author = "The libstore developers"
copyright = "2026, The libstore developers"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx.ext.doctest",
    "provider_matrix",
]
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
nitpicky = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_theme_options = {"description": "One storage API over S3, its look-alikes and local disk"}

# Every executed example starts in a fresh, empty working directory holding a few
# sample files, with no AWS settings from the environment.
doctest_global_setup = """
import os as _os
import shutil as _shutil
import tempfile as _tempfile
from pathlib import Path as _Path

for _name in list(_os.environ):
    if _name.startswith("AWS_"):
        del _os.environ[_name]
_docs_previous_cwd = _os.getcwd()
_docs_tmp = _tempfile.mkdtemp(prefix="libstore-docs-")
_os.chdir(_docs_tmp)
_Path("report.csv").write_text("day,bytes\\n1,100\\n2,250\\n")
_Path("photos").mkdir()
(_Path("photos") / "cat.jpg").write_bytes(b"\\xff\\xd8 not really a jpeg")
(_Path("photos") / "dog.jpg").write_bytes(b"\\xff\\xd8 not one either")
_Path("storage").mkdir()
"""
doctest_global_cleanup = """
_os.chdir(_docs_previous_cwd)
_shutil.rmtree(_docs_tmp, ignore_errors=True)
"""
