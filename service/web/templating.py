"""Where the dashboard's templates and static files are: the `webui` package data."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from starlette.templating import Jinja2Templates


def webui_dir() -> Path:
    """The installed `webui` folder (works from a checkout and from a wheel)."""
    return Path(str(resources.files("webui")))


def static_dir() -> Path:
    """CSS, JS and images."""
    return webui_dir() / "static"


templates = Jinja2Templates(directory=str(webui_dir() / "templates"))
