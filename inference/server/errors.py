"""Errors in OpenAI's shape: {"error": {"message", "type", "param", "code"}} with an HTTP status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inference.common.errors import InvalidSettingError
from inference.server.config import RETRY_AFTER_S

TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
         405: "invalid_request_error", 413: "invalid_request_error", 500: "server_error",
         503: "unavailable_error"}


@dataclass
class ApiError(Exception):
    """A request the server refuses or cannot serve; `str` is the one-line message."""

    status: int
    message: str
    param: str | None = None
    code: str | None = None

    def __str__(self) -> str:
        return self.message

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": TYPES.get(self.status, "api_error"),
                          "param": self.param, "code": self.code}}

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(RETRY_AFTER_S)} if self.status == 503 else {}


class ResponseFormatError(InvalidSettingError):
    """The engine child cannot constrain a reply to the response_format asked for (a 400 on
    the response_format parameter); it crosses the pipe with its class."""


def bad_request(message: str, param: str | None = None,
                code: str | None = "invalid_value") -> ApiError:
    return ApiError(400, message, param, code)


def not_supported(param: str, what: str | None = None) -> ApiError:
    """400 for a parameter Parley does not implement yet, sent with a non-default value."""
    return ApiError(400, f"{what or param} is not supported yet by Parley's server",
                    param, "not_supported")


def unavailable(message: str, code: str = "unavailable") -> ApiError:
    return ApiError(503, message, None, code)
