"""photo-restore: brings old scanned photos back to life, from an inbox to a `restored` folder."""

__version__ = "0.1.0"
