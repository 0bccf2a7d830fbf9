"""Helpers for authors of third-party drivers: the rules every bundled driver applies.

A driver outside libstore should accept exactly the ``extra`` options the bundled
drivers accept and refuse the same bad values with the same errors, before it
reads any data. Rather than copying those rules, call :func:`parse_upload_extra`::

    from libstore.driverkit import parse_upload_extra

    def upload_object_via_stream(self, iterator, container, object_name, extra=None,
                                 headers=None, **kwargs):
        options = parse_upload_extra(extra)   # InvalidArgumentError before any read
        ...
        stored_content_type = options.content_type
        stored_metadata = dict(options.meta_data)   # names already lower-cased

See the driver-author guide in the documentation for the whole contract, and
:mod:`libstore.testing` for the conformance kit that checks it.

.. versionadded:: 0.2
"""

from __future__ import annotations

from libstore._extra import CANNED_ACLS as CANNED_ACLS
from libstore._extra import STORAGE_CLASSES as STORAGE_CLASSES
from libstore._extra import UploadOptions as UploadOptions
from libstore._extra import parse_upload_extra as parse_upload_extra

__all__ = ["CANNED_ACLS", "STORAGE_CLASSES", "UploadOptions", "parse_upload_extra"]
