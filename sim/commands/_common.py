"""What the commands share: the common options, passphrases, device options and the home's vault.

In reading order:

- where the device home is, and the options every subcommand takes (``--home``, ``--json``,
  ``--force``), with :class:`FiniteFloat` for numbers;
- where members' passphrases come from: a hidden prompt, or ``--passphrase-file NAME=FILE``.
  Files are for scripts and tests: the passphrase is the file's first line, without its line
  ending. Passphrases live in RAM only; keepmum never writes or prints one. A new passphrase
  (``init``, ``member add``) must have at least :data:`MIN_PASSPHRASE_CHARS` characters: a
  member's identity file is sealed with age's scrypt, which slows a guess down but cannot save a
  one-letter passphrase from being tried in seconds by anyone who copies the file. Existing
  passphrases are never re-checked, so a vault made before the rule still opens;
- the options that tune the device (``replay``, ``listen``; ``far`` takes two of them), each
  mapped to one ``config.toml`` key, so a setting means the same on the command line and in the
  file and is validated by the same code; a command receives them as one :class:`DeviceOptions`;
- opening the home's vault with its configured settings.
"""

from __future__ import annotations

import functools
import math
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from keepmum.errors import ConfigError, StorageFullError
from keepmum.settings import declared
from sim.commands._base import KeepmumCommand, KeepmumGroup, visible
from sim.commands._output import Output
from sim.config import SECTIONS, load_config, read_user_text
from storage.erasure import pending_erasures
from storage.ledger import GrantRefused
from storage.redact import redact
from storage.settings import VaultSettings
from storage.upload import ErasureSender
from storage.vault import DB_NAME, Notice, Vault

__all__ = [
    "MIN_PASSPHRASE_CHARS",
    "DeviceOptions",
    "FiniteFloat",
    "KeepmumCommand",
    "KeepmumGroup",
    "check_new_passphrase",
    "default_home",
    "device_options",
    "force_option",
    "home_is_writable",
    "home_option",
    "json_option",
    "notice_printer",
    "opened_vault",
    "parse_passphrase_files",
    "passphrase_file_option",
    "read_passphrase",
    "read_passphrase_file",
    "require_stdin",
    "resolve_home",
    "send_erasure_requests",
]

F = TypeVar("F", bound=Callable[..., Any])


def default_home() -> Path:
    """The platform's user data folder for keepmum; ``KEEPMUM_HOME`` overrides it."""
    env = os.environ.get("KEEPMUM_HOME")
    if env:
        return Path(env).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "keepmum"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home())) / "keepmum"
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "keepmum"


def resolve_home(home: Path | None) -> Path:
    """``--home`` if given, else :func:`default_home`."""
    return home if home is not None else default_home()


def home_option(func: F) -> F:
    """``--home DIR``: the device home (config, vault, keys)."""
    return click.option(
        "--home",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Device home folder (default: $KEEPMUM_HOME or the user data folder).",
    )(func)


def require_stdin(question: str, instead: str) -> None:
    """ConfigError before asking ``question`` when standard input is closed (``<&-``: Python
    then has no ``sys.stdin``, and click and getpass would fail with a traceback)."""
    if sys.stdin is None:
        raise ConfigError(f"cannot ask for {question}: standard input is closed; {instead}")


def force_option(func: F) -> F:
    """``--force``: replace an existing output file (never one inside the device home, never
    through a symbolic link: see :func:`keepmum.files.guard_output_path`)."""
    return click.option("--force", is_flag=True, help="Replace the output file if it exists.")(func)


def json_option(func: F) -> F:
    """``--json``: one JSON object a line on stdout."""
    return click.option("--json", "json_lines", is_flag=True, help="Print one JSON object a line.")(
        func
    )


class Words(click.ParamType):
    """An option that takes one of a few words: shown as ``[discard|default]`` in ``--help``;
    the value is passed on as given, and the setting it sets refuses any other word, naming the
    option (as every tuning option's value is checked)."""

    name = "word"

    def __init__(self, choices: tuple[str, ...]) -> None:
        self.choices = choices

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        # click 8.1 passes the parameter alone, 8.2 and later the context too.
        return "[" + "|".join(self.choices) + "]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        return str(value)


class FiniteFloat(click.FloatRange):
    """A number option: NaN and infinity are refused with the option's name (click's own
    ``float`` and ``FloatRange`` accept both, and NaN passes every range check).

    ``allow_inf`` is for the few options where infinity has a documented meaning (``--snr-db
    inf``: no noise).
    """

    name = "number"

    def __init__(
        self,
        min: float | None = None,
        max: float | None = None,
        *,
        allow_inf: bool = False,
    ) -> None:
        super().__init__(min=min, max=max)
        self.allow_inf = allow_inf

    def _describe_range(self) -> str:
        # Unbounded: no range to show (click would print "[x<=None]" in --help).
        return "" if self.min is None and self.max is None else super()._describe_range()

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if math.isnan(number) or (math.isinf(number) and not self.allow_inf):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


MIN_PASSPHRASE_CHARS = 8
"""The shortest new passphrase accepted (characters)."""


def check_new_passphrase(member: str, passphrase: str) -> str:
    """``passphrase`` if it is long enough for a new identity; ConfigError otherwise."""
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise ConfigError(
            f"member {member!r}: a new passphrase needs at least {MIN_PASSPHRASE_CHARS} "
            f"characters, got {len(passphrase)}"
        )
    return passphrase


def passphrase_file_option(func: F) -> F:
    """``--passphrase-file NAME=FILE`` (repeatable)."""
    return click.option(
        "--passphrase-file",
        "passphrase_files",
        multiple=True,
        metavar="NAME=FILE",
        help="Read member NAME's passphrase from the first line of FILE instead of prompting "
        "(repeatable).",
    )(func)


def parse_passphrase_files(specs: Sequence[str]) -> dict[str, Path]:
    """``["alice=a.txt", ...]`` as ``{"alice": Path("a.txt")}``; ConfigError if malformed."""
    files: dict[str, Path] = {}
    for spec in specs:
        name, sep, file = spec.partition("=")
        if not sep or not name or not file:
            # Not echoed: a malformed value is often the passphrase itself, typed by mistake.
            raise ConfigError(
                "--passphrase-file: expected NAME=FILE (a member's name and the "
                "file holding their passphrase; the value given is not shown)"
            )
        if name in files and files[name] != Path(file):
            raise ConfigError(f"--passphrase-file: two files given for member {name!r}")
        files[name] = Path(file)
    return files


def read_passphrase_file(path: Path, member: str) -> str:
    """The first line of ``path`` without its line ending; ConfigError if missing or empty.

    A missing file is not named: ``alice=hunter2`` typed for ``alice=FILE`` would otherwise
    echo the passphrase into the terminal and its scroll-back or a CI log."""
    if not path.exists() and not path.is_symlink():
        raise ConfigError(
            f"--passphrase-file {member}=...: no such passphrase file (the value is not shown, "
            "in case it is the passphrase itself)"
        )
    text = read_user_text(path, "passphrase file")
    first = text.split("\n", 1)[0].removesuffix("\r")
    if not first:
        raise ConfigError(f"{path}: the first line (the passphrase) is empty")
    return first


def read_passphrase(
    member: str,
    passphrase_files: Sequence[str] = (),
    *,
    confirm: bool = False,
    prompt: Callable[..., Any] = click.prompt,
) -> str:
    """``member``'s passphrase: from its ``--passphrase-file`` if given, else a hidden prompt.

    ``confirm`` asks twice (for a new passphrase, at ``init`` and ``member add``).
    """
    files = parse_passphrase_files(passphrase_files)
    if member in files:
        value = read_passphrase_file(files[member], member)
        return check_new_passphrase(member, value) if confirm else value
    require_stdin(f"{member}'s passphrase", f"use --passphrase-file {member}=FILE")
    value = prompt(
        f"Passphrase for {member}" + (" (new)" if confirm else ""),
        hide_input=True,
        confirmation_prompt=confirm,
    )
    if not value:
        raise ConfigError(f"member {member!r}: the passphrase must not be empty")
    return check_new_passphrase(member, str(value)) if confirm else str(value)


def _setting_options() -> list[tuple[str, str, str, Any, str]]:
    """``(option, config section, config key, click type, help)`` of every setting that declares
    a command-line option (:mod:`keepmum.settings`), section by section, in field order."""
    table = []
    for section, settings in SECTIONS.items():
        for f, declaration in declared(settings):
            if declaration.option is None:
                continue
            whole = isinstance(f.default, int) and not isinstance(f.default, bool)
            kind: Any = int if whole else FiniteFloat()
            if isinstance(f.default, str):  # words (--unattributed): checked by the setting
                kind = Words(tuple(str(c) for c in declaration.choices))
            table.append((declaration.option, section, f.name, kind, declaration.help))
    keys = [key for _option, _section, key, _kind, _help in table]
    # The option's value travels under its key alone (DeviceOptions.settings): keys are unique.
    assert len(set(keys)) == len(keys), f"two settings with one key among {keys}"
    return table


_SIMPLE = _setting_options()
"""The device's tuning options: one for each setting that names an option in its declaration."""


@dataclass(frozen=True)
class DeviceOptions:
    """The options that tune the device, typed, as click parsed them: None (or empty) where the
    user gave none, so the configuration file's value (or the default) stands.

    One builder for every command that takes them: :meth:`overrides` gives the config tables,
    :meth:`blame` the option each value came from. ``replay`` and ``listen`` take all of them
    (:func:`device_options`); ``far`` builds one with the two it takes.
    """

    config_path: Path | None = None
    """``--config``: the configuration file (default: HOME/config.toml if it exists)."""
    models: tuple[str, ...] = ()
    """``--model`` (repeatable)."""
    thresholds: tuple[str, ...] = ()
    """``--threshold SCORE`` or ``MODEL=SCORE`` (repeatable)."""
    vad_gate: bool | None = None
    """``--vad-gate``."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """The tuning options given (``{"silence_ms": 900}``), by setting name: one for each
    setting that declares an option (``_SIMPLE``); an option not given is absent."""

    def with_settings(self, **values: Any) -> DeviceOptions:
        """These options with ``values`` given too (a None value: not given)."""
        merged = {**self.settings, **{k: v for k, v in values.items() if v is not None}}
        return replace(self, settings=merged)

    def _given(self) -> Iterator[tuple[str, str, str, Any]]:
        """``(option, section, key, value)`` of each table option the user gave."""
        for option, section, key, _kind, _help in _SIMPLE:
            value = self.settings.get(key)
            if value is not None:
                yield option, section, key, value

    def overrides(self) -> dict[str, dict[str, Any]]:
        """Config tables from the options given (ConfigError for a bad or repeated
        ``--threshold``)."""
        tables: dict[str, dict[str, Any]] = {}
        for _option, section, key, value in self._given():
            tables.setdefault(section, {})[key] = value
        if self.models:
            tables.setdefault("wakeword", {})["models"] = list(self.models)
        per_model: dict[str, float] = {}
        for item in self.thresholds:
            if "=" in item:
                name, value = item.split("=", 1)
                if name.strip() in per_model:
                    raise ConfigError(
                        f"--threshold {item}: a second threshold for {name.strip()!r}"
                    )
                per_model[name.strip()] = _score(value, item)
            else:
                if "default_threshold" in tables.get("wakeword", {}):
                    raise ConfigError(f"--threshold {item}: a second threshold for all models")
                tables.setdefault("wakeword", {})["default_threshold"] = _score(item, item)
        if per_model:
            tables.setdefault("wakeword", {})["thresholds"] = per_model
        if self.vad_gate:
            tables.setdefault("device", {})["vad_gate"] = True
        return tables

    def blame(self) -> dict[tuple[str, str], str]:
        """``(section, key) -> "--option VALUE"`` for the options given, so that a bad value is
        reported under the option that gave it (see :func:`sim.config.load_config`)."""
        labels: dict[tuple[str, str], str] = {}
        for option, section, key, value in self._given():
            labels[(section, key)] = f"{option} {value}"
        if self.models:
            labels[("wakeword", "models")] = " ".join(f"--model {m}" for m in self.models)
        per_model = [i for i in self.thresholds if "=" in i]
        default = [i for i in self.thresholds if "=" not in i]
        if per_model:
            labels[("wakeword", "thresholds")] = " ".join(f"--threshold {i}" for i in per_model)
        if default:
            labels[("wakeword", "default_threshold")] = f"--threshold {default[-1]}"
        if self.vad_gate:
            labels[("device", "vad_gate")] = "--vad-gate"
        return labels


_DEVICE_FIELDS = ("config_path", "models", "thresholds", "vad_gate")
"""The device options that are not settings of the table."""


_DECISION = [entry for entry in _SIMPLE if entry[1] in ("speaker", "vad")]
"""The request decision's settings among the tuning options: the speaker's and the VAD's."""


def _with_options(command: F, entries: Sequence[tuple[str, str, str, Any, str]]) -> F:
    """``command`` with a click option (default None) for each ``_SIMPLE`` entry, in order."""
    for option, _section, key, kind, help_text in reversed(entries):
        command = click.option(option, key, type=kind, default=None, help=help_text)(command)
    return command


def decision_options(func: F) -> F:
    """The request decision's tuning options (``--silence-ms``, ``--room-margin-db``,
    ``--silero-threshold``, ...: the speaker and VAD settings ``replay`` takes), handed to the
    command as one ``decision: DeviceOptions`` argument, so that ``keepmum far`` can judge a
    rule's settings on the command line as ``replay`` runs them."""

    @functools.wraps(func)
    def with_decision(*args: Any, **kwargs: Any) -> Any:
        given = {key: kwargs.pop(key) for _option, _section, key, _kind, _help in _DECISION}
        return func(*args, decision=DeviceOptions().with_settings(**given), **kwargs)

    return _with_options(cast(F, with_decision), _DECISION)


def device_options(func: F) -> F:
    """``--config``, ``--model``, ``--threshold``, ``--vad-gate`` and the tuning options above,
    handed to the command as one ``device: DeviceOptions`` argument."""

    @functools.wraps(func)
    def with_device(*args: Any, **kwargs: Any) -> Any:
        given = {name: kwargs.pop(name) for name in _DEVICE_FIELDS}
        settings = {key: kwargs.pop(key) for _option, _section, key, _kind, _help in _SIMPLE}
        return func(*args, device=DeviceOptions(**given).with_settings(**settings), **kwargs)

    command = _with_options(cast(F, with_device), _SIMPLE)
    command = click.option(
        "--vad-gate",
        is_flag=True,
        default=None,
        help="Run the speech-embedding model only while speech was heard in the last 1.5 s.",
    )(command)
    command = click.option(
        "--threshold",
        "thresholds",
        multiple=True,
        metavar="[MODEL=]SCORE",
        help="Wake threshold for all models, or MODEL=SCORE for one (repeatable).",
    )(command)
    command = click.option(
        "--model",
        "models",
        multiple=True,
        metavar="NAME|FILE",
        help="Wake-word model: a built-in name (`keepmum models` lists this install's) or a model "
        "file of the backend, .onnx or .tflite (repeatable; default from config: alexa).",
    )(command)
    command = click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Configuration file (default: HOME/config.toml if it exists).",
    )(command)
    return command


def _score(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"--threshold {where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"--threshold {where}: {text!r} is not a finite number")
    return value


def home_is_writable(folder: Path) -> bool:
    """False on a read-only mount (``os.access`` alone says yes to root there)."""
    try:
        read_only_fs = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return True  # let opening the vault report what is wrong
    return not read_only_fs and os.access(folder / DB_NAME, os.W_OK)


def warn(text: str) -> None:
    """One ``keepmum: warning:`` line on stderr (terminal-safe, secrets redacted)."""
    click.echo(f"keepmum: warning: {redact(visible(text))}", err=True)


def notice_printer(out: Output | None = None) -> Callable[[Notice], None]:
    """How a command tells the user what the vault noticed (:data:`storage.vault.Notice`): a
    refused grant as a JSON event with ``--json`` (``out``), else one stderr line; a clock
    behind the vault's always as one stderr line (``vault list --json`` stays records only)."""

    def show(notice: Notice) -> None:
        if out is not None and out.json_lines and isinstance(notice, GrantRefused):
            out.emit(notice.as_json())
        else:
            warn(str(notice))

    return show


@contextmanager
def opened_vault(
    home: Path | None,
    *,
    read_only: bool = False,
    withdrawal: bool = False,
    frees_space: bool = False,
    out: Output | None = None,
) -> Iterator[Vault]:
    """The vault of ``--home`` (or the default home), with ``config.toml``'s vault settings.

    Opening enforces expiry and capacity; VaultError says to run ``keepmum init`` if there is no
    vault. ``read_only`` (list, verify, report, audit ...): on a read-only home, open for
    reading instead of failing. ``withdrawal`` (revoke, delete, forget): a broken config.toml
    must not block withdrawing consent or erasing, so it is skipped, and then nothing is
    purged at open (default settings could delete what the real ones keep). Withdrawal and
    ``frees_space`` (purge) may use the vault's space reserve on a full disk. What the vault
    notices (a refused grant, a clock set back) is printed by :func:`notice_printer`.
    """
    folder = resolve_home(home)
    show = notice_printer(out)
    if read_only and Vault.exists(folder) and not home_is_writable(folder):
        with Vault.open(folder, read_only=True, on_notice=show) as vault:
            yield vault
        return
    settings: VaultSettings | None = None
    enforce = True
    if Vault.exists(folder):
        try:
            settings = load_config(home=folder).vault
        except ConfigError as exc:
            if not withdrawal:
                raise
            warn(f"{exc}; ignored: withdrawing and erasing need no configuration (nothing purged)")
            enforce = False
    try:
        vault = Vault.open(
            folder, settings, enforce=enforce, frees_space=withdrawal or frees_space, on_notice=show
        )
    except StorageFullError as exc:
        if not read_only:
            raise
        # Listing needs no room: read without the purge at open (the next writer purges).
        warn(f"{exc}; shown read-only, nothing purged")
        vault = Vault.open(folder, read_only=True, on_notice=show)
    with vault:
        yield vault


def send_erasure_requests(vault: Vault, out: Output) -> None:
    """Send every unconfirmed erasure request now; print each outcome (never raises for an
    endpoint that does not answer: the request stays pending and is retried next time)."""
    if not pending_erasures(vault.connection):
        return
    for req in ErasureSender(vault).send_pending():
        out.emit(
            {
                "event": "erasure_confirmed" if req.confirmed_at else "erasure_pending",
                **req.as_json(),
            }
        )
        if req.confirmed_at is not None:
            out.say_plain(
                f"erasure request {req.request_id}: {req.endpoint} confirmed erasing "
                f"{len(req.records)} record(s) of {req.member}"
            )
        else:
            out.say_plain(
                f"erasure request {req.request_id} to {req.endpoint} NOT confirmed "
                f"yet ({req.last_error}); retried by the next `keepmum upload`"
            )
