"""The one pattern for a service's own settings: a `ServiceSettings` subclass per service,
read from `PALMGRID_<SERVICE>_*` variables, next to the shared `Settings` every service
reads (profile, data directory, addresses, TLS, ...).

    class CareConfig(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="PALMGRID_CARE_")

        # Field `x` is read from PALMGRID_CARE_X; declare ranges with Field(ge=, le=).
        feedback_days: int = Field(default=15, ge=0, le=365)

`CareConfig.load()` reads the process environment (or a given mapping) and raises
`SettingsError` naming each bad variable; the `ServiceSpec`'s `settings` loader calls it
once at start (see servers.runtime.service). Every service also gets `demo_data`
(`PALMGRID_<SERVICE>_DEMO_DATA`): whether its `seed_demo` runs at start in the dev
profile.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, Self

from pydantic import ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from servers.runtime.settings import Settings, settings_error

# PALMGRID_ then the service name in upper case then "_": PALMGRID_BILLING_.
_PREFIX = re.compile(r"^PALMGRID_[A-Z]+_$")
# The variables `load(environ)` reads instead of the process environment, while it runs.
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("palmgrid_environ", default=None)


class ServiceSettings(BaseSettings):
    """Base of a service's own settings. A subclass sets `env_prefix`
    ("PALMGRID_<SERVICE>_"); the other config (frozen, unknown variables ignored) is
    inherited."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    # Seed the demo data at start? None: yes in the dev profile. Never outside it.
    demo_data: bool | None = None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        prefix = cls.model_config.get("env_prefix", "")
        if not _PREFIX.match(prefix):
            raise TypeError(
                f"{cls.__name__}: env_prefix must be PALMGRID_<SERVICE>_, not {prefix!r}"
            )

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The settings from `environ` (default: the process environment); a bad value
        raises SettingsError naming its variable (`PALMGRID_BILLING_DUE_DAYS: ...`)."""
        token = _ENVIRON.set(environ)
        try:
            return cls()
        except ValidationError as exc:
            raise settings_error(exc, cls.model_config.get("env_prefix", "")) from None
        finally:
            _ENVIRON.reset(token)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments, then the environment: the process's, or the mapping given
        to `load` (then only that)."""
        environ = _ENVIRON.get()
        if environ is None:
            return init_settings, env_settings, dotenv_settings, file_secret_settings
        source = EnvSettingsSource(settings_cls)
        # Names match case-insensitively, as the default source matches os.environ.
        source.env_vars = {name.lower(): value for name, value in environ.items()}
        return init_settings, source

    def seeds_demo(self, settings: Settings) -> bool:
        """Whether the service seeds its demo data at start: in the dev profile unless
        `demo_data` is false; never in any other profile."""
        if settings.profile != "dev":
            return False
        return True if self.demo_data is None else self.demo_data
