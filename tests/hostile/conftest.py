"""The dashboard's fixtures (a real Redis, a DATA_DIR with an inbox) for the hostile corpus."""

from tests.web.conftest import data_dir, rdb

__all__ = ["data_dir", "rdb"]
