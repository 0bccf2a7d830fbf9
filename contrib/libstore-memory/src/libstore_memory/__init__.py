"""libstore-memory: an in-memory storage driver for libstore, registered by entry point.

After ``pip install libstore-memory``::

    from libstore import get_driver

    Memory = get_driver("memory")       # found through the libstore.drivers entry point
    driver = Memory("scratch")          # drivers with the same key share their data
"""

from libstore_memory.driver import MemoryStorageDriver as MemoryStorageDriver

__all__ = ["MemoryStorageDriver"]
__version__ = "0.1.0"
