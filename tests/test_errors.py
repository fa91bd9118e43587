"""The exception tree: one module holds every class, and each is born on the right branch."""

from __future__ import annotations

import errno
import importlib
import inspect
import os
import pkgutil

import pytest
from redis import exceptions as redis_errors

import service
from service import errors
from service.web.app import ERROR_STATUS


def service_modules() -> list[str]:
    return [m.name for m in pkgutil.walk_packages(service.__path__, "service.")]


def test_every_exception_class_of_the_service_lives_in_errors() -> None:
    elsewhere = []
    for name in service_modules():
        module = importlib.import_module(name)
        for obj in vars(module).values():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__ == name
                and name != "service.errors"
            ):
                elsewhere.append(f"{name}.{obj.__qualname__}")
    assert elsewhere == []


def test_errors_exports_every_class_it_defines() -> None:
    defined = {
        n
        for n, obj in vars(errors).items()
        if inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__ == errors.__name__
    }
    assert set(errors.__all__) == defined


@pytest.mark.parametrize("cls", [errors.InvalidRequest, errors.InvalidEdit, errors.Conflict])
def test_request_and_edit_errors_are_permanent_and_not_configuration(cls: type) -> None:
    assert issubclass(cls, errors.PermanentError)
    assert not issubclass(cls, errors.ConfigError)


def status_for(exc: Exception) -> int:
    return next(code for cls, code in ERROR_STATUS if isinstance(exc, cls))


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (errors.InvalidRequest("bad body"), 400),
        (errors.WebhookRejected("not a webhook"), 400),
        (errors.InvalidEdit("crop outside the frame"), 400),
        (errors.Conflict("not finished"), 409),
        (errors.OutsideInboxes("/etc"), 403),
        (errors.UnsafePath(".."), 400),
        (errors.NotFound("gone"), 404),
        (errors.InvalidImage("not an image"), 422),
        (errors.ConfigError("models.toml: oops"), 500),
        (errors.StorageUnavailable("503"), 502),
    ],
)
def test_each_error_maps_to_its_http_status(exc: Exception, status: int) -> None:
    assert status_for(exc) == status


@pytest.mark.parametrize(
    "exc",
    [
        redis_errors.ConnectionError("Error 111 connecting to unix socket"),
        redis_errors.TimeoutError("Timeout reading from socket"),
        redis_errors.BusyLoadingError("Redis is loading the dataset in memory"),
        redis_errors.ReadOnlyError("You can't write against a read only replica."),
        redis_errors.OutOfMemoryError("command not allowed when used memory > 'maxmemory'"),
        redis_errors.ResponseError(
            "Command # 1 (SET k v) of pipeline caused error: MISCONF Redis is configured to "
            "save RDB snapshots, but it's currently unable to persist to disk."
        ),
    ],
)
def test_a_redis_that_is_away_or_refuses_writes_is_an_outage(exc: Exception) -> None:
    outage = errors.from_redis(exc)
    assert isinstance(outage, errors.RedisUnavailable)
    assert isinstance(outage, errors.LocalOutage)
    assert isinstance(outage, errors.TransientError)


def test_a_redis_error_that_is_our_bug_is_no_outage() -> None:
    wrong = redis_errors.ResponseError("WRONGTYPE Operation against a key holding the wrong kind")
    assert errors.from_redis(wrong) is None


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_a_full_disk_is_an_outage_and_other_os_errors_are_not(code: int) -> None:
    full = errors.from_os(OSError(code, os.strerror(code)))
    assert isinstance(full, errors.DiskFull)
    assert isinstance(full, errors.LocalOutage)
    assert errors.from_os(PermissionError(errno.EACCES, "Permission denied")) is None


@pytest.mark.parametrize(
    "exc",
    [
        errors.DiskFull("no space"),
        errors.RedisUnavailable("Redis unreachable"),
        redis_errors.ResponseError("MISCONF Redis is configured to save RDB snapshots"),
    ],
)
def test_our_own_redis_or_disk_trouble_is_503_never_500(exc: Exception) -> None:
    assert status_for(exc) == 503
