"""Where photos live: the Storage protocol and its implementations."""

from service.storage.base import Entry, Storage

__all__ = ["Entry", "Storage"]
