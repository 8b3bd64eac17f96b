"""Workspace tracking settings in force when a message is composed."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from linktrack.core.errors import SPACES, InputError, Unprocessable
from linktrack.core.liquid import TemplateError, compile_liquid

_HOST = re.compile(
    r"[A-Za-z0-9]([A-Za-z0-9.\-]*[A-Za-z0-9])?(:[0-9]{1,5})?|\[[0-9a-fA-F:]+\](:[0-9]{1,5})?"
)


class SettingsError(ValueError):
    """A settings document a user must fix (wrong type, unknown field)."""


# URL parameters are added to every tracked link of every message.
MAX_PARAMS = 50
PARAM_NAME_LENGTH = 100
PARAM_VALUE_LENGTH = 1_000


def _check_params(params: dict[str, str]) -> None:
    if len(params) > MAX_PARAMS:
        raise SettingsError(f"url_params may hold at most {MAX_PARAMS} parameters")
    for name, value in params.items():
        if len(name) > PARAM_NAME_LENGTH or len(value) > PARAM_VALUE_LENGTH:
            raise SettingsError(
                f"a URL parameter's name is at most {PARAM_NAME_LENGTH} characters and its "
                f"value at most {PARAM_VALUE_LENGTH:,}: {name[:40]!r}"
            )


@dataclass(frozen=True, slots=True)
class TrackingSettings:
    """What decides how links are rewritten; captured on each delivery at send time."""

    tracking_domain: str = "links.example.com"
    tracking_https: bool = True
    url_params: dict[str, str] = field(default_factory=dict)
    add_cio_id: bool = True
    open_tracking: bool = True
    shorten_links: bool = False
    short_domain: str = ""

    @property
    def base_url(self) -> str:
        """`https://domain` — the prefix of every tracked URL."""
        scheme = "https" if self.tracking_https else "http"
        return f"{scheme}://{self.tracking_domain.strip().rstrip('/')}"

    def warnings(self) -> list[str]:
        """Configuration a user should know is risky."""
        if not self.tracking_https:
            return ["tracking domain is HTTP-only: a domain with HSTS needs HTTPS tracking links"]
        return []

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], base: TrackingSettings | None = None
    ) -> TrackingSettings:
        """Validate a (partial) settings document on top of `base`."""
        if not isinstance(data, dict):
            raise SettingsError("settings must be a JSON object")
        known = {f.name: f for f in fields(cls)}
        values = (base or cls()).to_dict()
        for name, value in data.items():
            if name not in known:
                raise SettingsError(f"unknown setting {name!r}")
            default = values[name]
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise SettingsError(f"{name} must be true or false")
            elif isinstance(default, str):
                if not isinstance(value, str):
                    raise SettingsError(f"{name} must be a string")
            elif isinstance(default, dict) and not (
                isinstance(value, dict)
                and all(isinstance(k, str) and k and isinstance(v, str) for k, v in value.items())
            ):
                raise SettingsError(f"{name} must map parameter names to string values")
            values[name] = value
        _check_params(values["url_params"])
        for name in ("tracking_domain", "short_domain"):
            domain = values[name].strip(SPACES)
            values[name] = domain
            if (domain or name == "tracking_domain") and not _HOST.fullmatch(domain):
                raise SettingsError(f"{name} must be a host name (optionally with :port)")
        return cls(**values)


def changed_settings(base: TrackingSettings, data: dict[str, Any]) -> TrackingSettings:
    """`data` merged over `base`, validated as every writer of settings validates them
    (the API's PUT and the dashboard): a bad document is a 400, a URL parameter whose
    Liquid does not compile a 422."""
    try:
        settings = TrackingSettings.from_dict(data, base=base)
    except SettingsError as exc:
        raise InputError(str(exc)) from None
    try:
        for name, value in settings.url_params.items():
            compile_liquid(value, f"URL parameter {name}")
    except TemplateError as exc:
        raise Unprocessable(str(exc)) from None
    return settings
