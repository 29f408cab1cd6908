"""``keepmum corpus synth / stream``: synthetic corpora for the false-wake benchmark."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from keepmum.errors import ConfigError
from keepmum.files import guard_output_folder, guard_output_path
from sim.commands._common import (
    FiniteFloat,
    KeepmumGroup,
    default_home,
    force_option,
    json_option,
)
from sim.commands._output import Output, escape

__all__ = ["corpus", "parse_list"]


def parse_list(values: str, option: str, kind: Callable[[str], Any]) -> tuple[Any, ...]:
    """``"140,175"`` as a tuple of ``kind``; :class:`ConfigError` naming the option otherwise."""
    items = [v.strip() for v in values.split(",")]
    if any(not v for v in items):
        raise ConfigError(f"{option}: expected values separated by commas, got {values!r}")
    try:
        parsed = tuple(kind(v) for v in items)
    except ValueError:
        raise ConfigError(
            f"{option}: expected values separated by commas, got {values!r}"
        ) from None
    for value in parsed:
        if isinstance(value, float) and math.isnan(value):
            raise ConfigError(f"{option}: expected numbers, got {values!r}")
    return parsed


@click.group(cls=KeepmumGroup)
def corpus() -> None:
    """Synthetic corpora: spoken phrases (espeak-ng) and long benchmark streams."""


@corpus.command()
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the WAVs and labels.jsonl (created).",
)
@click.option(
    "--text", "texts", multiple=True, required=True, help="A phrase to speak; repeat for several."
)
@click.option(
    "--voices",
    default="en-us",
    show_default=True,
    help="espeak-ng voices, comma-separated (variants allowed: en-us+f3).",
)
@click.option(
    "--rates",
    default="175",
    show_default=True,
    help="Speaking rates in words per minute, comma-separated.",
)
@click.option("--pitches", default="50", show_default=True, help="Pitches 0-99, comma-separated.")
@click.option(
    "--noise",
    "noises",
    multiple=True,
    type=click.Choice(["none", "white", "pink", "babble"]),
    help="Noise to mix in; repeat for several (default: none, clean clips).",
)
@click.option(
    "--snr-db",
    "snrs",
    default=None,
    help="Signal-to-noise ratios in dB, comma-separated (default 10; needs --noise).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same bytes.")
@click.option("--force", is_flag=True, help="Write into a folder that already has a corpus.")
@json_option
def synth(
    out_dir: Path,
    texts: tuple[str, ...],
    voices: str,
    rates: str,
    pitches: str,
    noises: tuple[str, ...],
    snrs: str | None,
    seed: int,
    force: bool,
    json_lines: bool,
) -> None:
    """Speak phrases in several voices, speeds and pitches, with noise at several SNRs.

    Writes 16 kHz mono 16-bit WAVs and labels.jsonl (file, text, voice, rate, pitch, noise,
    snr_db, seed, duration_s, speech_start_s, speech_end_s).
    """
    from sim.research.corpus_synth import LABELS_NAME, SynthSettings, synthesize_corpus

    out = Output(json_lines)
    if snrs is not None and not any(n != "none" for n in noises):
        raise ConfigError("--snr-db: needs --noise white, pink or babble")
    settings = SynthSettings(
        texts=texts,
        voices=parse_list(voices, "--voices", str),
        rates_wpm=parse_list(rates, "--rates", int),
        pitches=parse_list(pitches, "--pitches", int),
        noises=noises or ("none",),
        snrs_db=parse_list(snrs, "--snr-db", float) if snrs is not None else (10.0,),
        seed=seed,
    )
    guard_output_folder(out_dir, home=default_home(), option="--out")
    if (out_dir / LABELS_NAME).exists() and not force:
        raise ConfigError(
            f"--out {out_dir}: already holds a corpus ({LABELS_NAME}); choose another folder "
            "or pass --force"
        )
    with out.console.status("speaking ...") as status:

        def progress(done: int, total: int) -> None:
            status.update(f"speaking ... {done}/{total} clips")

        rows = synthesize_corpus(out_dir, settings, progress=progress)
    seconds = sum(r["duration_s"] for r in rows)
    out.emit(
        {
            "event": "corpus",
            "out": str(out_dir),
            "labels": str(out_dir / LABELS_NAME),
            "files": len(rows),
            "duration_s": seconds,
            "seed": seed,
        }
    )
    out.say(f"wrote {len(rows)} clips ({seconds:.1f} s) and {LABELS_NAME} to {escape(out_dir)}")


@corpus.command()
@click.option(
    "--keywords",
    "keywords_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder of keyword clips; each is placed once.",
)
@click.option(
    "--background",
    "background_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder of background speech clips (LibriSpeech-like).",
)
@click.option("--hours", type=FiniteFloat(), required=True, help="Length of the stream (hours).")
@click.option(
    "--out",
    "out_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The stream WAV to write (16 kHz mono 16-bit).",
)
@click.option(
    "--labels",
    "labels_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Keyword labels (default: OUT's stem + .labels.jsonl).",
)
@click.option(
    "--snr-db",
    "snr",
    type=FiniteFloat(allow_inf=True),
    default=10.0,
    show_default=True,
    help="Noise below the speech's mean power (dB); inf for none.",
)
@click.option(
    "--noise",
    type=click.Choice(["pink", "white", "none"]),
    default="pink",
    show_default=True,
    help="Noise over the whole stream.",
)
@click.option(
    "--speech-fraction",
    type=FiniteFloat(),
    default=0.2,
    show_default=True,
    help="Share of the stream that is speech.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same bytes.")
@force_option
@json_option
def stream(
    keywords_dir: Path,
    background_dir: Path,
    hours: float,
    out_file: Path,
    labels_file: Path | None,
    snr: float,
    noise: str,
    speech_fraction: float,
    seed: int,
    force: bool,
    json_lines: bool,
) -> None:
    """A long stream in the manner of Picovoice's benchmark: keywords placed once each among
    background speech (about 20 % speech, 80 % silence), noise at an SNR, written in blocks."""
    from sim.research.corpus_stream import StreamSettings, labels_path_for, make_stream

    out = Output(json_lines)
    labels = labels_file if labels_file is not None else labels_path_for(out_file)
    meta = out_file.with_name(out_file.stem + ".meta.json")
    for option, path in (("--out", out_file), ("--labels", labels), ("--out", meta)):
        guard_output_path(
            path, home=default_home(), option=option, overwrite=force, make_folder=True
        )
    settings = StreamSettings(
        hours=hours, snr_db=snr, speech_fraction=speech_fraction, noise=noise, seed=seed
    )
    with out.console.status("writing the stream ...") as status:

        def progress(done: int, total: int) -> None:
            status.update(f"writing the stream ... {100.0 * done / total:.0f} %")

        summary = make_stream(
            keywords_dir, background_dir, out_file, settings, labels=labels_file, progress=progress
        )
    out.emit({"event": "stream", **summary})
    out.say(
        f"wrote {summary['seconds'] / 3600:.2f} h to {out_file}: {summary['keywords']} keywords, "
        f"{100 * summary['speech_fraction']:.1f} % speech, noise {noise}"
        + (f" at {snr:g} dB SNR" if summary["snr_db"] is not None else "")
        + f"; labels in {summary['labels']}"
    )
