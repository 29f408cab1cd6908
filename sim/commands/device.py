"""The device commands: ``replay``, ``listen``, ``demo`` and ``config show``."""

from __future__ import annotations

import contextlib
import secrets
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from device.events import Summary as RunSummary
from device.microphone import MicrophoneSource
from device.pipeline import Attribute, UtteranceSink
from device.sources import REPLAY_PAD_S, AudioSource, FileSource, RawPcmSource
from keepmum.errors import CheckFailed, ConfigError, Interrupted, StorageFullError
from sim.chime import Chime, sounddevice_player
from sim.commands._common import (
    DeviceOptions,
    FiniteFloat,
    KeepmumCommand,
    KeepmumGroup,
    device_options,
    home_option,
    json_option,
    notice_printer,
    opened_vault,
    resolve_home,
)
from sim.commands._devices import print_input_devices
from sim.commands._live import LiveView
from sim.commands._output import Output, escape, event_line, print_report, summary_table
from sim.config import Config, load_config, to_toml
from sim.expect import check_expectations, load_expectations
from sim.replay import RunOutcome, raise_if_full, run_sources, vault_sink, voice_attribution
from storage.vault import Vault
from wakeword.backend import installed_backend

__all__ = ["config_group", "demo", "listen", "replay"]

DATA = Path(__file__).resolve().parent.parent / "data"  # sim/data
DEMO_SCENARIO = DATA / "household.wav"


def _config(home: Path, device: DeviceOptions) -> Config:
    return load_config(
        device.config_path, home=home, overrides=device.overrides(), blame=device.blame()
    )


@contextlib.contextmanager
def _sink(
    home: Path, config: Config, member: str | None, no_store: bool, out: Output
) -> Iterator[UtteranceSink | None]:
    """The vault bound to a member, or nothing with ``--no-store``."""
    with vault_sink(
        home,
        config,
        member,
        store=not no_store,
        on_full=_warn_full,
        on_notice=notice_printer(out),
        instead="replay with --no-store",
    ) as sink:
        yield sink


def _storage_options(func: Any) -> Any:
    """Where a run's requests go: ``--member`` (else by voice once anyone has enrolled; the
    ``[voice]`` options come with the device's settings) and ``--no-store``."""
    func = click.option(
        "--no-store", is_flag=True, help="Run without a vault: nothing is written anywhere."
    )(func)
    return click.option(
        "--member",
        default=None,
        help="Household member every utterance belongs to (default: by voice once anyone has "
        "enrolled, else the first member).",
    )(func)


def _warn_full(exc: StorageFullError) -> None:
    click.echo(
        f"keepmum: warning: {exc}; the device keeps listening and discards what it cannot store",
        err=True,
    )


class _Stop:
    """The signal that asked a run to stop, if any (see :func:`_stopped_by_signals`)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None

    def raise_if_stopped(self, summary: RunSummary) -> None:
        """After the summary is out: exit 130 (SIGINT) or 143 (SIGTERM) if a signal stopped us."""
        if self.signum is not None:
            name = signal.Signals(self.signum).name
            raise Interrupted(
                name,
                self.signum,
                f"stopped after {summary.heard_s:.1f} s of audio; "
                "what was heard is recorded and summarised above",
            )


@contextlib.contextmanager
def _stopped_by_signals(on_stop: Callable[[], None] | None = None) -> Iterator[_Stop]:
    """Ctrl-C (SIGINT) and SIGTERM end a run cleanly instead of killing it mid-utterance: the
    first one asks the device to stop after the frame in hand, so the utterance in hand is
    decided, the ``run`` audit entry written and the summary printed. A second Ctrl-C stops at
    once (KeyboardInterrupt: exit 130, nothing more printed; the vault stays consistent)."""
    stop = _Stop()

    def handle(signum: int, _frame: Any) -> None:
        if stop.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.signum = signum
        stop.event.set()
        if on_stop is not None:
            on_stop()

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _run(
    out: Output,
    sources: list[AudioSource],
    config: Config,
    sink: UtteranceSink | None,
    on_frame: Any = None,
    on_event: Any = None,
    stop: threading.Event | None = None,
    attribute: Attribute | None = None,
) -> RunOutcome:
    """:func:`sim.replay.run_sources`, printing each event as it happens: the same events, in
    the same form, as :func:`keepmum.replay` returns. :func:`_finish` prints the summary."""

    def report(data: dict[str, Any]) -> None:
        out.emit(data)
        out.say(event_line(data))
        if on_event is not None:
            on_event(data)

    return run_sources(
        sources,
        config,
        sink,
        on_event=report,
        on_frame=on_frame,
        stop=stop,
        attribute=attribute,
    )


def _both(
    first: Callable[[dict[str, Any]], None], second: Callable[[dict[str, Any]], None] | None
) -> Callable[[dict[str, Any]], None]:
    """One event listener that calls ``first``, then ``second`` if there is one."""
    if second is None:
        return first

    def both(event: dict[str, Any]) -> None:
        first(event)
        second(event)

    return both


def _finish(out: Output, outcome: RunOutcome) -> None:
    """Print the run's summary (its last event)."""
    data = outcome.events[-1]
    out.emit(data)
    if not out.json_lines:
        out.table(summary_table(data))


def _file_sources(files: tuple[str, ...]) -> list[AudioSource]:
    if not files:
        raise click.UsageError(
            "give at least one audio file, or - for raw s16le 16 kHz mono (or a WAV file) on stdin"
        )
    if files.count("-") > 1:
        raise click.UsageError("standard input (-) can be replayed only once")
    if "-" in files and sys.stdin is None:
        # Python sets sys.stdin to None when file descriptor 0 is closed (`keepmum replay - <&-`).
        raise ConfigError("-: standard input is closed; pipe raw s16le 16 kHz mono audio into it")
    # Open (and so validate) every file before the device hears anything: a bad file named last
    # must not leave a half-done run behind.
    return [
        RawPcmSource(sys.stdin.buffer, "-", pad_s=REPLAY_PAD_S)
        if name == "-"
        else FileSource(name, pad_s=REPLAY_PAD_S)
        for name in files
    ]


@click.command(cls=KeepmumCommand)
@click.argument("files", nargs=-1)
@home_option
@json_option
@device_options
@_storage_options
@click.option(
    "--expect",
    "expect_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON list of expected events; exit 1 with the differences if the run differs.",
)
def replay(
    files: tuple[str, ...],
    home: Path | None,
    json_lines: bool,
    member: str | None,
    no_store: bool,
    expect_path: Path | None,
    device: DeviceOptions,
) -> None:
    """Run the device on recorded audio (WAV/FLAC/OGG, any rate and channels; - reads raw s16le
    16 kHz mono from stdin, e.g. from arecord, or a 16-bit WAV file, known by its header).

    Each file is heard on its own, with 1 s of silence before and after (as openWakeWord's
    predict_clip does); event times are seconds from the file's start.
    """
    out = Output(json_lines)
    home_dir = resolve_home(home)
    config = _config(home_dir, device)
    expectations = load_expectations(expect_path) if expect_path else None
    sources = _file_sources(files)
    with _stopped_by_signals() as stop, _sink(home_dir, config, member, no_store, out) as sink:
        attribute = voice_attribution(sink, member, config.voice)
        outcome = _run(out, sources, config, sink, stop=stop.event, attribute=attribute)
    _finish(out, outcome)
    stop.raise_if_stopped(outcome.summary)  # an interrupted run is not checked against --expect
    raise_if_full(sink)
    if expectations is not None:
        problems = check_expectations(expectations, outcome.events)
        if problems:
            raise CheckFailed(
                f"{expect_path}: the run differs from the expected events:\n  "
                + "\n  ".join(problems)
            )
        out.say(f"[green]{escape(expect_path)}: all {len(expectations)} expected events seen[/]")


@click.command(cls=KeepmumCommand)
@home_option
@json_option
@device_options
@click.option(
    "--input-device",
    default=None,
    metavar="NAME|INDEX",
    help="Microphone (default: from config, else the system default).",
)
@click.option(
    "--duration",
    "duration_s",
    type=FiniteFloat(min=0.08),
    default=None,
    help="Stop after this many seconds.",
)
@_storage_options
@click.option(
    "--list-devices",
    is_flag=True,
    help="List the input devices (index and name, for --input-device) and exit.",
)
@click.option(
    "--chime",
    is_flag=True,
    help="Play a short tone on the output device when the device starts listening for a request.",
)
def listen(
    home: Path | None,
    json_lines: bool,
    input_device: str | None,
    duration_s: float | None,
    member: str | None,
    no_store: bool,
    list_devices: bool,
    chime: bool,
    device: DeviceOptions,
) -> None:
    """Run the device on a live microphone, with a live view (press m to mute, Ctrl-C to stop)."""
    out = Output(json_lines)
    if list_devices:
        print_input_devices(out)
        return
    home_dir = resolve_home(home)
    config = _config(home_dir, device)
    microphone = input_device if input_device is not None else (config.device.input_device or None)
    source = MicrophoneSource(microphone, duration_s=duration_s)
    chimes = Chime(sounddevice_player) if chime else None
    with (
        _stopped_by_signals(source.stop) as stop,
        _sink(home_dir, config, member, no_store, out) as sink,
    ):
        attribute = voice_attribution(sink, member, config.voice)
        if json_lines or not sys.stdout.isatty():
            outcome = _run(
                out, [source], config, sink, on_event=chimes, stop=stop.event, attribute=attribute
            )
        else:
            with LiveView(out.console, config.wakeword.default_threshold) as view:
                out = Output(False)
                out.console = view.console
                outcome = _run(
                    out,
                    [source],
                    config,
                    sink,
                    on_frame=view.update,
                    on_event=_both(view.count, chimes),
                    stop=stop.event,
                    attribute=attribute,
                )
    if source.dropped_frames or source.input_overflows:
        out.say(
            f"[yellow]microphone: {source.dropped_frames} frames dropped (the device fell "
            f"behind), {source.input_overflows} input overflows[/]"
        )
    _finish(out, outcome)
    stop.raise_if_stopped(outcome.summary)
    raise_if_full(sink)


@click.command(cls=KeepmumCommand)
@home_option
@json_option
@click.option(
    "--scenario",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Audio to replay instead of the bundled household scenario.",
)
def demo(home: Path | None, json_lines: bool, scenario: Path | None) -> None:
    """Replay a bundled household scenario through the whole device, then show what it kept.

    Without --home the demo uses a throwaway home that is deleted afterwards; its member's
    passphrase is random and never shown, so even the demo's own records stay unreadable.
    """

    out = Output(json_lines)
    audio = scenario or DEMO_SCENARIO
    if not audio.is_file():
        raise ConfigError(f"{audio}: the demo scenario is missing (reinstall keepmum)")
    with contextlib.ExitStack() as stack:
        home_dir = home or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="keepmum-demo-"))
        )
        if not Vault.exists(home_dir):
            with Vault.create(home_dir) as vault:
                vault.add_member("household", secrets.token_urlsafe(24))
        config = load_config(home=home_dir)
        out.say(
            f"[bold]keepmum demo[/]: replaying {audio.name} through the device "
            f"(models: {', '.join(config.wakeword.models)})\n"
        )
        with _sink(home_dir, config, None, False, out) as sink:
            outcome = _run(out, [FileSource(audio, pad_s=REPLAY_PAD_S)], config, sink)
        _finish(out, outcome)
        # The vault's own account, as `keepmum report` prints it.
        with opened_vault(home_dir, read_only=True) as vault:
            print_report(out, vault)


@click.group("config", cls=KeepmumGroup)
def config_group() -> None:
    """The device configuration."""


@config_group.command("show")
@home_option
@json_option
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None
)
def config_show(home: Path | None, json_lines: bool, config_path: Path | None) -> None:
    """Print the configuration in force (defaults, then the file, validated)."""
    config = load_config(config_path, home=resolve_home(home))
    backend = installed_backend()
    out = Output(json_lines)
    out.emit(
        {
            "source": config.source,
            "backend": {
                "name": backend.name,
                "package": backend.package,
                "runtime": backend.runtime,
                "models_dir": str(backend.models_dir),
            },
            **config.as_toml_dict(),
        }
    )
    if not json_lines:
        click.echo(f"# from: {config.source}")
        click.echo(f"# wake-word backend: {backend.describe()}, models in {backend.models_dir}")
        click.echo(to_toml(config), nl=False)
