"""The exception tree: one module holds every class, and each is born on the right branch."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

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
