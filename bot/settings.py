"""The bot's environment (contract C5): tokens and switches come from here, never from files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, MutableMapping

#: Read into Settings once, then taken out of the process environment (see drop_secrets).
SECRET_VARIABLES = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET",
                    "MESHBOT_ALERTMANAGER_TOKEN")


class SettingsError(Exception):
    """The environment cannot run the bot; the message names every missing or bad variable."""


@dataclass(frozen=True)
class Settings:
    bot_token: str | None = None
    signing_secret: str | None = None
    app_token: str | None = None
    api_url: str | None = None
    redis_url: str | None = None
    config_path: str | None = None
    snapshot: str | None = None
    alertmanager_token: str | None = None
    http_port: int = 3000
    log_format: str = "json"
    log_level: str = "INFO"

    @property
    def socket_mode(self) -> bool:
        """Socket Mode whenever an app-level token is given (contract C5)."""
        return bool(self.app_token)

    @property
    def api_base_url(self) -> str | None:
        if not self.api_url:
            return None
        return self.api_url if self.api_url.endswith("/") else self.api_url + "/"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        port_text = env.get("MESHBOT_HTTP_PORT", "3000")
        try:
            port = int(port_text)
        except ValueError:
            raise SettingsError(f"MESHBOT_HTTP_PORT must be a port number, not {port_text!r}") from None
        settings = cls(
            bot_token=env.get("SLACK_BOT_TOKEN") or None,
            signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
            app_token=env.get("SLACK_APP_TOKEN") or None,
            api_url=env.get("SLACK_API_URL") or None,
            redis_url=env.get("REDIS_URL") or None,
            config_path=env.get("MESHBOT_CONFIG") or None,
            snapshot=env.get("MESHBOT_SNAPSHOT") or None,
            alertmanager_token=env.get("MESHBOT_ALERTMANAGER_TOKEN") or None,
            http_port=port,
            log_format=(env.get("LOG_FORMAT") or "json").lower(),
            log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        problems = []
        if not self.bot_token:
            problems.append("SLACK_BOT_TOKEN is not set (the bot token, xoxb-...)")
        if not self.socket_mode and not self.signing_secret:
            problems.append("SLACK_SIGNING_SECRET is not set (required in HTTP mode; set "
                            "SLACK_APP_TOKEN instead to use Socket Mode)")
        if not 0 < self.http_port < 65536:
            problems.append("MESHBOT_HTTP_PORT must be between 1 and 65535")
        if self.log_format not in ("json", "console"):
            problems.append("LOG_FORMAT must be json or console")
        if problems:
            raise SettingsError("; ".join(problems))


def drop_secrets(env: MutableMapping[str, str] | None = None) -> None:
    """Take the secrets out of the process environment once Settings holds them, so that no
    library picks them up behind the bot's back (slack-bolt's AsyncApp reads SLACK_BOT_TOKEN
    and warns that it goes unused next to the bot's own client) and no child process inherits
    them (kubeconfig `exec` credential plugins run with the bot's environment)."""
    env = os.environ if env is None else env
    for name in SECRET_VARIABLES:
        env.pop(name, None)
