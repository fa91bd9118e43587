"""Settings: every name of the contract, read from the environment and `.env`, validated once.

A wrong value becomes one `ConfigError` line naming the variable and what was expected, so
the CLI can exit 2 with it. Secrets are `SecretStr`: they print as '**********'.
"""

from __future__ import annotations

import ipaddress
import unicodedata
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.constants import DEFAULT_SETTLE_SECONDS, STATE_DIR_NAME
from service.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Settings(BaseSettings):
    """The service's settings; field names are the environment variables, upper-cased."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
    )

    owncloud_url: str | None = None
    owncloud_user: str | None = None
    owncloud_password: SecretStr | None = None
    owncloud_dav_path: str | None = None
    watch_root: str = "/"
    inbox_name: str = "to-restore"
    output_name: str = "restored"
    poll_interval: float = Field(30.0, gt=0, le=86400)
    settle_seconds: float = Field(DEFAULT_SETTLE_SECONDS, ge=0, le=3600)
    data_dir: Path = Path("./data")
    redis_url: str | None = None
    hf_token: SecretStr | None = None
    hf_router_url: str = "https://router.huggingface.co"
    hf_endpoint: str = "https://huggingface.co"
    hf_bill_to: str | None = None
    models_file: Path = Path("./models.toml")
    default_chain: str | None = None
    webhook_secret: SecretStr | None = None
    dashboard_password: SecretStr | None = None
    # Addresses (IPs or CIDRs, comma-separated) of the reverse proxies whose forwarded headers
    # and AUTH_HEADER are believed; from anyone else those headers are dropped.
    trusted_proxies: str = ""
    auth_header: str | None = None
    session_secret: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    max_pixels: int = Field(150_000_000, ge=1_000_000)
    max_file_mb: int = Field(500, ge=1)
    cache_max_mb: int = Field(2048, ge=0)
    retry_base_seconds: float = Field(10.0, gt=0, le=3600)
    drain_seconds: int = Field(30, ge=0, le=3600)
    job_concurrency: int = Field(2, ge=1, le=64)
    metrics_port: int | None = Field(None, ge=1, le=65535)  # worker's own /metrics listener
    log_json: bool = False
    log_level: str = "INFO"

    @field_validator("owncloud_url", "hf_router_url", "hf_endpoint")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None if value == "" else value
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator(
        "owncloud_password",
        "hf_token",
        "webhook_secret",
        "dashboard_password",
        "session_secret",
        "auth_header",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """An empty secret (`DASHBOARD_PASSWORD=` in a `.env`) means *unset*, everywhere.

        Without this one rule, `is not None` in one place and truthiness in another disagreed:
        the server listened on the network while the dashboard asked for no password.
        """
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected redis://host:port/db, rediss:// or unix://")
        return value

    @field_validator("watch_root")
    @classmethod
    def _root(cls, value: str) -> str:
        value = "/" + value.strip("/")
        if ".." in value.split("/"):
            raise ValueError("must not contain '..'")
        return value

    @field_validator("inbox_name", "output_name")
    @classmethod
    def _folder_name(cls, value: str) -> str:
        if not value or "/" in value or value in {".", ".."}:
            raise ValueError("expected a single folder name without '/'")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        items = [v for v in value.replace(",", " ").split() if v]
        try:
            nets = [ipaddress.ip_network(v, strict=False) for v in items]
        except ValueError:
            raise ValueError("expected IP addresses or CIDRs, e.g. 10.0.0.0/8,127.0.0.1") from None
        return ",".join(str(n) for n in nets)

    @model_validator(mode="after")
    def _combinations(self) -> Settings:
        """Rules across settings, each a way the service could harm what it serves."""
        if _folded(self.inbox_name) == _folded(self.output_name):
            raise ValueError(
                f"OUTPUT_NAME: must differ from INBOX_NAME (both {self.output_name!r}): "
                "results would be written over the originals"
            )
        if self.auth_header and not self.trusted_proxies:
            raise ValueError(
                "AUTH_HEADER: needs TRUSTED_PROXIES, the address(es) of the proxy that sets it; "
                "the header is never believed from anyone else"
            )
        first = self.watch_root.strip("/").split("/")[0]
        if not self.owncloud_url and first == STATE_DIR_NAME:
            raise ValueError(f"WATCH_ROOT: must not be inside the state folder {STATE_DIR_NAME}")
        return self

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
        return value

    @property
    def uses_owncloud(self) -> bool:
        """True when results go to a WebDAV server rather than the local DATA_DIR."""
        return bool(self.owncloud_url)

    @property
    def dashboard_protected(self) -> bool:
        """True when the dashboard asks who you are (a password or a trusted auth header)."""
        return self.dashboard_password is not None or self.auth_header is not None

    @property
    def trusted_networks(self) -> tuple[Network, ...]:
        """TRUSTED_PROXIES as networks (empty: no proxy is trusted)."""
        return tuple(ipaddress.ip_network(v) for v in self.trusted_proxies.split(",") if v)

    @property
    def hf_token_value(self) -> str | None:
        """HF_TOKEN, else what huggingface_hub's own discovery finds (`hf auth login`)."""
        if self.hf_token is not None and self.hf_token.get_secret_value():
            return self.hf_token.get_secret_value()
        return _discover_hf_token()

    @property
    def state_dir(self) -> Path:
        """Local state (embedded Redis, caches) lives in a hidden folder the watcher never lists."""
        return self.data_dir / STATE_DIR_NAME


def _folded(name: str) -> str:
    """A folder name as a case-insensitive, NFC-normalizing server or disk may see it."""
    return unicodedata.normalize("NFC", name).casefold()


def _discover_hf_token() -> str | None:
    try:
        from huggingface_hub import get_token  # optional: only when installed
    except ImportError:
        return None
    try:
        return get_token()
    except (OSError, ValueError):  # an unreadable token file means no token, not no start
        return None


def load_settings(**overrides: object) -> Settings:
    """Read and validate settings, turning pydantic's report into one ConfigError line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        if not first.get("loc"):  # a rule across settings: its message names them
            raise ConfigError("setting " + first["msg"].removeprefix("Value error, ")) from None
        name = str(first["loc"][0]).upper()
        got = first.get("input")
        if any(word in name for word in ("PASSWORD", "TOKEN", "SECRET")):
            got = "**********"
        raise ConfigError(f"setting {name}: {first['msg']} (got {got!r})") from None
