"""Settings: every contract name read, bad values explained in one line, secrets hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.cli import main
from service.config.settings import load_settings
from service.errors import ConfigError


def test_defaults_match_the_contract(chdir_tmp: Path) -> None:
    s = load_settings()
    assert s.owncloud_url is None
    assert not s.uses_owncloud
    assert (s.watch_root, s.inbox_name, s.output_name) == ("/", "to-restore", "restored")
    assert s.poll_interval == 30
    assert s.data_dir == Path("./data")
    assert s.redis_url is None
    assert s.hf_token is None
    assert s.hf_router_url == "https://router.huggingface.co"
    assert s.hf_endpoint == "https://huggingface.co"
    assert (s.host, s.port) == ("127.0.0.1", 8000)


def test_dot_env_in_the_working_folder_is_read(chdir_tmp: Path) -> None:
    (chdir_tmp / ".env").write_text("POLL_INTERVAL=7\nINBOX_NAME=scans-in\n")
    s = load_settings()
    assert s.poll_interval == 7
    assert s.inbox_name == "scans-in"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("PORT", "eighty", "PORT"),
        ("POLL_INTERVAL", "-3", "POLL_INTERVAL"),
        ("OWNCLOUD_URL", "cloud.example.com", "http:// or https://"),
        ("REDIS_URL", "localhost:6379", "redis://"),
        ("INBOX_NAME", "a/b", "single folder name"),
        ("WATCH_ROOT", "/x/../y", "'..'"),
    ],
)
def test_a_bad_value_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, chdir_tmp: Path, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert name in str(err.value)
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_setting_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, chdir_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PORT", "99999")
    assert main(["chains"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "PORT" in err


def test_secrets_never_print(monkeypatch: pytest.MonkeyPatch, chdir_tmp: Path) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_supersecret123")
    monkeypatch.setenv("OWNCLOUD_PASSWORD", "app-pass-xyz")
    s = load_settings()
    text = repr(s) + str(s) + s.model_dump_json()
    assert "hf_supersecret123" not in text
    assert "app-pass-xyz" not in text
    assert s.hf_token_value == "hf_supersecret123"


@pytest.mark.parametrize("blank", ["", "   "])
def test_empty_password_never_opens_the_dashboard_to_the_network(
    chdir_tmp: Path, blank: str
) -> None:
    from service.commands.run import listen_host
    from service.web.auth import AuthConfig

    # What a `.env` line `DASHBOARD_PASSWORD=` gives, with the Docker image's default host.
    (chdir_tmp / ".env").write_text(f"DASHBOARD_PASSWORD={blank}\nAUTH_HEADER=\nHOST=0.0.0.0\n")
    s = load_settings()
    assert s.dashboard_password is None
    assert s.auth_header is None
    assert not s.dashboard_protected
    assert listen_host(s) == "127.0.0.1"
    assert AuthConfig.from_settings(s).mode == "open"


def test_a_real_password_may_listen_on_the_network(chdir_tmp: Path) -> None:
    from service.commands.run import listen_host
    from service.web.auth import AuthConfig

    s = load_settings(dashboard_password="correct horse", host="0.0.0.0")
    assert listen_host(s) == "0.0.0.0"
    assert AuthConfig.from_settings(s).mode == "password"


@pytest.mark.parametrize("name", ["HF_TOKEN", "WEBHOOK_SECRET", "SESSION_SECRET"])
def test_empty_secrets_are_unset(chdir_tmp: Path, name: str) -> None:
    (chdir_tmp / ".env").write_text(f"{name}=\n")
    assert getattr(load_settings(), name.lower()) is None


@pytest.mark.parametrize(
    ("inbox", "output"), [("restored", "restored"), ("Scans", "scans"), ("Re\u0301sumé", "Résumé")]
)
def test_an_output_folder_named_like_the_inbox_is_refused_before_it_overwrites_originals(
    monkeypatch: pytest.MonkeyPatch, chdir_tmp: Path, inbox: str, output: str
) -> None:
    monkeypatch.setenv("INBOX_NAME", inbox)
    monkeypatch.setenv("OUTPUT_NAME", output)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "OUTPUT_NAME" in str(err.value)
    assert "over the originals" in str(err.value)


def test_auth_header_without_trusted_proxies_is_refused(
    monkeypatch: pytest.MonkeyPatch, chdir_tmp: Path
) -> None:
    monkeypatch.setenv("AUTH_HEADER", "X-Forwarded-User")
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        load_settings()
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")
    s = load_settings()
    assert [str(n) for n in s.trusted_networks] == ["10.0.0.0/8", "127.0.0.1/32"]
    monkeypatch.setenv("TRUSTED_PROXIES", "proxy.example")
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        load_settings()


def test_a_local_watch_root_inside_the_state_folder_is_refused(
    monkeypatch: pytest.MonkeyPatch, chdir_tmp: Path
) -> None:
    monkeypatch.setenv("WATCH_ROOT", "/.photo-restore/x")
    with pytest.raises(ConfigError, match="WATCH_ROOT"):
        load_settings()
