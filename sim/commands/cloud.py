"""``keepmum cloud serve / list``: a local receiver that shows exactly what an upload sent.

The receiver is another party, not part of the device: its identity (which opens everything it
received) and its received files live in its own folder, ``--data DIR`` (default
``$KEEPMUM_CLOUD_DATA``, else ``keepmum-cloud`` in the user data folder, beside and never inside
a device home), so nothing in a device home can read back what the device sent.
"""

from __future__ import annotations

import os
import re
import signal
import ssl
from pathlib import Path
from types import FrameType

import click

from keepmum.errors import CheckFailed, ConfigError, IntegrityError, KeepmumError
from keepmum.files import guard_output_folder, write_file
from sim.cloud import MIB, CloudServer, CloudStore, ReceivedItem, ReceiverLimits
from sim.commands._common import (
    FiniteFloat,
    KeepmumGroup,
    default_home,
    force_option,
    json_option,
)
from sim.commands._output import Output
from storage.wire import is_loopback_host

__all__ = ["cloud", "default_cloud_data", "local_receiver_token"]

_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def default_cloud_data() -> Path:
    """The receiver's folder: ``KEEPMUM_CLOUD_DATA``, else beside the default device home."""
    env = os.environ.get("KEEPMUM_CLOUD_DATA")
    if env:
        return Path(env).expanduser()
    # Not default_home() / "cloud": KEEPMUM_HOME must not pull the receiver into a device home.
    home = default_home()
    return home.with_name(f"{home.name}-cloud")


def local_receiver_token(recipient: str) -> Path | None:
    """The token file of this user's own receiver (:func:`default_cloud_data`) if that receiver
    publishes ``recipient``, else None: what ``consent grant`` uses when given no token file.

    Only a receiver that already exists is looked at (nothing is created), and only its token
    goes to an endpoint that publishes its recipient, so a grant to another receiver never gets
    it. A process squatting that receiver's port could claim its recipient; it would get the
    token from the device's first upload just as well had the token been given explicitly.
    """
    folder = default_cloud_data()
    if not (folder / "identity.txt").is_file() or not (folder / "token.txt").is_file():
        return None
    try:
        store = CloudStore(folder)
    except (KeepmumError, OSError):
        return None
    return store.token_file if store.recipient == recipient else None


def _data_option(func: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--data",
        "--store",
        "data_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="The receiver's own folder: its identity and what it received "
        "(default: $KEEPMUM_CLOUD_DATA, else keepmum-cloud in the user data folder).",
    )(func)


def _tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ConfigError("--tls-cert and --tls-key: give both, or neither")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"--tls-cert {cert} --tls-key {key}: cannot load them ({exc})") from exc
    return context


_DEFAULTS = ReceiverLimits()


@click.group(cls=KeepmumGroup)
def cloud() -> None:
    """A local receiving endpoint with its own age identity (for seeing what consent sends)."""


@cloud.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; loopback unless you say otherwise.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port to bind (0 picks a free one).",
)
@click.option(
    "--grant-quota-mib",
    type=click.IntRange(1),
    default=_DEFAULTS.grant_quota_bytes // MIB,
    show_default=True,
    help="Most MiB of uploads stored for one grant (413 past it).",
)
@click.option(
    "--store-limit-mib",
    type=click.IntRange(1),
    default=_DEFAULTS.store_limit_bytes // MIB,
    show_default=True,
    help="Most MiB of uploads stored in all (507 past it, or when the disk is full).",
)
@click.option(
    "--request-timeout",
    type=FiniteFloat(0.1, 3600),
    default=_DEFAULTS.request_timeout_s,
    show_default=True,
    help="Seconds a client has to send one whole request before it is cut off.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(1, 1024),
    default=_DEFAULTS.max_connections,
    show_default=True,
    help="Connections served at once; as many more are answered 503 (Retry-After: 1), "
    "past that closed unanswered.",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    help="A name clients may use for this receiver in Host (repeatable; the served address "
    "and, on loopback, localhost are always allowed).",
)
@click.option(
    "--tls-cert",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Serve https with this PEM certificate (chain) ...",
)
@click.option(
    "--tls-key",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="... and this PEM private key.",
)
@_data_option
@json_option
def serve(
    host: str,
    port: int,
    grant_quota_mib: int,
    store_limit_mib: int,
    request_timeout: float,
    max_connections: int,
    allow_hosts: tuple[str, ...],
    tls_cert: Path | None,
    tls_key: Path | None,
    data_dir: Path | None,
    json_lines: bool,
) -> None:
    """Receive uploads until interrupted (Ctrl-C or SIGTERM), printing each one as it arrives.

    Every caller but one fetching the public recipient must show the token in the store's
    token.txt (a device learns it with `consent grant --endpoint-token-file`).
    """
    out = Output(json_lines)
    tls = _tls_context(tls_cert, tls_key)
    limits = ReceiverLimits(
        grant_quota_bytes=grant_quota_mib * MIB,
        store_limit_bytes=store_limit_mib * MIB,
        request_timeout_s=request_timeout,
        max_connections=max_connections,
        allowed_hosts=tuple(h.strip().lower() for h in allow_hosts),
    )
    cloud_store = CloudStore(data_dir or default_cloud_data())
    dropped = cloud_store.drop_unacknowledged()
    if dropped:
        out.emit({"event": "dropped_unacknowledged", "files": dropped})
        out.say_plain(
            f"dropped {len(dropped)} file(s) of uploads never acknowledged (the receiver "
            f"stopped while storing them; their senders resend): {', '.join(dropped)}"
        )

    def on_receive(item: ReceivedItem) -> None:
        shown = cloud_store.describe(item)
        out.emit({"event": "received", **shown})
        out.say_plain(
            f"received #{item.number}: record {item.record} of {item.member} "
            f"(grant {item.grant}, {item.bytes} bytes, {shown['duration_s']:.2f} s of audio)"
        )

    try:
        server = CloudServer(cloud_store, host, port, on_receive=on_receive, limits=limits, tls=tls)
    except OSError as exc:
        raise ConfigError(f"--host {host} --port {port}: cannot listen there ({exc})") from exc
    # SIGTERM (kill, systemd, docker stop) stops it as Ctrl-C does, with its "stopped" line;
    # set before "serving" is printed, which is when a supervisor may already send it.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        if not is_loopback_host(host):
            out.console.print(f"[bold]warning:[/] listening on {host}, not only on this machine")
            if tls is None:
                out.console.print(
                    "[bold]warning:[/] without --tls-cert/--tls-key, devices elsewhere refuse "
                    "to send here (only loopback may use plain http)"
                )
        out.emit(
            {
                "event": "serving",
                "url": server.url,
                "recipient": cloud_store.recipient,
                "store": str(cloud_store.folder),
                "token_file": str(cloud_store.token_file),
            }
        )
        out.say_plain(f"keepmum cloud: serving {server.url} (recipient {cloud_store.recipient})")
        out.say_plain(
            f"store: {cloud_store.folder}; grant consent to --endpoint {server.url} "
            f"--endpoint-token-file {cloud_store.token_file}"
        )
        server.serve_forever()
    except KeyboardInterrupt:
        out.emit({"event": "stopped"})
        out.say_plain("keepmum cloud: stopped")
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """A signal handler that stops ``serve_forever`` as Ctrl-C does."""
    raise KeyboardInterrupt


@cloud.command("list")
@_data_option
@json_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write each received recording, decrypted, as a WAV (mode 0600) into this folder.",
)
@force_option
def list_received(
    data_dir: Path | None, json_lines: bool, out_dir: Path | None, force: bool
) -> None:
    """Show, decrypted, everything the receiver got."""
    out = Output(json_lines)
    folder = data_dir or default_cloud_data()
    if not (folder / "identity.txt").exists():
        raise ConfigError(f"{folder}: no receiver here (run `keepmum cloud serve` first)")
    cloud_store = CloudStore(folder)
    items = cloud_store.items()
    if out_dir is not None:
        # The receiver's own folder holds its identity: decrypted copies never go there.
        guard_output_folder(out_dir, home=folder, option="--out")
        out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    unreadable = 0
    for item in items:
        try:
            shown = cloud_store.describe(item)
        except IntegrityError as exc:  # one bad upload is reported, the rest still shown
            unreadable += 1
            out.emit({"event": "unreadable", "number": item.number, "error": str(exc)})
            out.say_plain(f"#{item.number} record {item.record}: cannot be shown: {exc}")
            continue
        if out_dir is not None:
            wav_path = out_dir / f"{item.number}-{_SAFE.sub('_', item.record)}.wav"
            try:
                write_file(wav_path, cloud_store.decrypt(item), overwrite=force)
            except FileExistsError:
                raise ConfigError(
                    f"--out {wav_path}: already exists; add --force to replace it"
                ) from None
            shown["file"] = str(wav_path)
        out.emit(shown)
        out.say_plain(
            f"#{item.number} record {item.record} member {item.member} grant {item.grant} "
            f"purpose {item.purpose!r}: {item.bytes} bytes sent, {shown['duration_s']:.2f} s "
            f"WAV sha256 {shown['wav_sha256'][:16]}"
        )
    if not items:
        out.say_plain("nothing received")
    if unreadable:
        raise CheckFailed(f"{unreadable} of {len(items)} received item(s) cannot be shown")
