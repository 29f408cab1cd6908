"""``keepmum voices``: how well the voice model tells household members and strangers apart.

A command of its own rather than a mode of ``far``: ``far`` scores wake-word models on audio
folders, with score caches, phases and thresholds per wake-word model; this scores a speaker
embedding on folders of speakers, with enrolment, rotations of members and strangers, and one
voice threshold. They share only the Wilson interval.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from device.audio import SAMPLE_RATE
from sim.commands._common import FiniteFloat, KeepmumCommand, json_option
from sim.commands._output import Output, escape
from sim.research.voices import (
    BABBLE_SNRS_DB,
    BAND_SUFFIX,
    DURATIONS,
    ENROL_UTTERANCES,
    FALSE_ACCEPT,
    MEMBERS,
    ConditionResult,
    CorpusEmbeddings,
    Speaker,
    choose_over_channels,
    embed_corpus,
    find_corpora,
    load_speaker,
    report_corpus,
    through_telephone_band,
)
from sim.research.voices_hidden import Fold, leave_one_speaker_out, pool_folds
from sim.research.voices_join import JOINED_SUFFIX, load_joined_speaker
from wakeword.stats import DEFAULT_CONFIDENCE, Interval, check_confidence
from wakeword.voice import VoiceEncoder

__all__ = ["voices"]

_THREE_SECONDS = {"3s": DURATIONS["3s"]}
"""Joined corpora and the telephone band are measured on 3-second requests only."""


@click.command(cls=KeepmumCommand)
@click.argument("speakers_dir", type=click.Path(path_type=Path))
@click.option(
    "--babble",
    "babble_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder of other people's speech: each request is also scored in three of them at "
    "each --snr.",
)
@click.option(
    "--snr",
    "snrs_db",
    type=FiniteFloat(min=-20.0, max=60.0),
    multiple=True,
    default=BABBLE_SNRS_DB,
    show_default=True,
    help="Babble level below the request (dB); repeat for several.",
)
@click.option(
    "--enrol",
    "enrol_count",
    type=click.IntRange(min=1),
    default=ENROL_UTTERANCES,
    show_default=True,
    help="Enrolment utterances per speaker (its first files by name); the rest are requests.",
)
@click.option(
    "--choose-on",
    default=None,
    metavar="CORPUS",
    help="Corpus whose choose half picks the threshold (default: the first with 3-second "
    "requests).",
)
@click.option(
    "--threshold",
    type=FiniteFloat(min=0.0, max=1.0),
    default=None,
    help="Report at this voice threshold instead of choosing one.",
)
@click.option(
    "--hidden",
    is_flag=True,
    help="Also leave one speaker out: each speaker of the --choose-on corpus filed at a "
    "threshold chosen without them (their voiceprint and requests), 3-second requests.",
)
@click.option(
    "--join-short",
    type=FiniteFloat(min=DURATIONS["3s"], max=60.0),
    default=None,
    metavar="SECONDS",
    help="Also measure each corpus whose files are all shorter than a 3-second request with "
    "each speaker's files joined (take order, 0.2 s gaps) into utterances of SECONDS or more, "
    "as CORPUS-joined: never chosen on, reported on all its requests.",
)
@click.option(
    "--confidence",
    type=FiniteFloat(min=0.0, max=1.0),
    default=DEFAULT_CONFIDENCE,
    show_default=True,
    help="Two-sided confidence of the intervals.",
)
@json_option
def voices(
    speakers_dir: Path,
    babble_dir: Path | None,
    snrs_db: tuple[float, ...],
    enrol_count: int,
    choose_on: str | None,
    threshold: float | None,
    hidden: bool,
    join_short: float | None,
    confidence: float,
    json_lines: bool,
) -> None:
    """Measure voice attribution on folders of speakers (SPEAKERS_DIR/<corpus>/<speaker>/audio).

    Four speakers at a time are enrolled members (three utterances each, --enrol), the rest
    strangers; every rotation. Per corpus, request length and noise: the share of members'
    requests filed under the right member and under a wrong one, the share of strangers'
    requests kept, with intervals, and the equal error rate. The threshold is chosen on half of
    the requests and every figure is on the other half (docs/voices.md): the choosing corpus is
    also measured through a telephone band (CORPUS 8 kHz band), and the threshold is the higher
    of the two channels' choices. ``--json``: one object per condition, then one with the
    threshold.

    Hidden speakers (docs/measurements/2026-12-08-hidden-speakers.md): ``--hidden`` files each
    speaker of the choosing corpus at a threshold chosen without them (``--json``: one
    ``hidden_fold`` object per speaker and noise, then one ``hidden`` per noise, pooled);
    ``--join-short 3`` makes a corpus of spoken digits into speakers of 3-second requests.
    """
    check_confidence(confidence)
    if hidden and threshold is not None:
        raise click.BadParameter(
            "chooses a threshold per held-out speaker; it cannot be used with --threshold",
            param_hint="--hidden",
        )
    out = Output(json_lines)
    corpora = find_corpora(speakers_dir)
    babble = _babble_files(babble_dir)
    encoder = VoiceEncoder()
    embedded: dict[str, CorpusEmbeddings] = {}
    loaded: dict[str, list[Speaker]] = {}
    joined: set[str] = set()
    for name, dirs in corpora.items():
        out.say(f"[dim]embedding {escape(name)}: {len(dirs)} speakers[/]")
        speakers = loaded[name] = [load_speaker(d, enrol_count) for d in dirs]
        embedded[name] = embed_corpus(name, speakers, encoder, babble, snrs_db=tuple(snrs_db))
        if join_short is not None and _all_short(speakers):
            name += JOINED_SUFFIX
            out.say(f"[dim]embedding {escape(name)}: files joined into {join_short:g} s[/]")
            long = [load_joined_speaker(d, enrol_count, join_short) for d in dirs]
            embedded[name] = embed_corpus(
                name, long, encoder, babble, snrs_db=tuple(snrs_db), durations=_THREE_SECONDS
            )
            joined.add(name)
    chosen_on = None
    channels: list[CorpusEmbeddings] = []
    if threshold is None:
        chosen_on = _choose_on(choose_on, embedded, joined)
        band = chosen_on + BAND_SUFFIX
        out.say(f"[dim]embedding {escape(band)}: the same speakers through a telephone band[/]")
        narrow = through_telephone_band(loaded[chosen_on])
        embedded[band] = embed_corpus(
            band, narrow, encoder, babble, snrs_db=tuple(snrs_db), durations=_THREE_SECONDS
        )
        channels = [embedded[chosen_on], embedded[band]]
        threshold = choose_over_channels(channels)
    rows = [
        r
        for name, e in embedded.items()
        for r in report_corpus(
            e, threshold, ("choose", "report") if name in joined else ("report",)
        )
    ]
    title = (
        f"voice attribution, {MEMBERS} members x {enrol_count} enrolment utterances, "
        f"threshold {threshold:.3f} ({int(confidence * 100)} % intervals, report half"
        + (f"; {', '.join(sorted(joined))}: all requests)" if joined else ")")
    )
    table = _emit_rows(out, rows, threshold, confidence, title)
    out.emit(
        {
            "event": "threshold",
            "threshold": threshold,
            "chosen_on": chosen_on,
            "channels": [c.corpus for c in channels],
            "false_accept": FALSE_ACCEPT if chosen_on else None,
        }
    )
    if not json_lines:
        out.table(table)
        how = (
            f"chosen on {escape(chosen_on)}'s choose half (3 s requests, at most "
            f"{100 * FALSE_ACCEPT:g} % of other speakers' scores reach it, as recorded and "
            "through a telephone band: the higher)"
            if chosen_on
            else "given"
        )
        out.say(f"threshold {threshold:.3f}: {how}")
    if hidden and chosen_on is not None:
        folds = leave_one_speaker_out(embedded[chosen_on], channels=channels[1:])
        _emit_hidden(out, chosen_on, folds, confidence)


def _all_short(speakers: list[Speaker]) -> bool:
    """No file of the corpus is as long as a 3-second request."""
    longest = max(len(a) for s in speakers for a in (*s.enrol, *s.requests))
    return longest < DURATIONS["3s"] * SAMPLE_RATE


def _choose_on(named: str | None, embedded: dict[str, CorpusEmbeddings], joined: set[str]) -> str:
    """The corpus that chooses the threshold: ``named``, or the first (of files, not joined)
    with 3-second requests. BadParameter if there is none, or it is joined (joined corpora are
    the hidden speakers: they never choose)."""
    if named in joined:
        raise click.BadParameter(
            f"{named!r}: a joined corpus is never chosen on (its speakers are the hidden ones)",
            param_hint="--choose-on",
        )
    chosen = named or next(
        (
            n
            for n, e in embedded.items()
            if n not in joined and any(d == "3s" for d, _ in e.requests)
        ),
        None,
    )
    if chosen is None or chosen not in embedded:
        raise click.BadParameter(
            f"{chosen!r}: not a corpus with 3-second requests here "
            f"(corpora: {', '.join(n for n in embedded if n not in joined)})",
            param_hint="--choose-on",
        )
    return chosen


def _emit_rows(
    out: Output, rows: list[ConditionResult], threshold: float, confidence: float, title: str
) -> Table:
    """One JSON object per condition, and the table of them (printed by the caller)."""
    table = Table(title=title)
    for column in (
        "corpus",
        "request",
        "noise",
        "right member",
        "wrong member",
        "strangers kept",
        "EER",
    ):
        table.add_column(column)
    for r in rows:
        rates = r.rates(confidence)
        out.emit(
            {
                "corpus": r.corpus,
                "duration": r.duration,
                "noise": r.noise,
                "speakers": r.speakers,
                "rotations": r.rotations,
                "member_requests": r.member_requests,
                "right": r.right,
                "wrong": r.wrong,
                "stranger_requests": r.stranger_requests,
                "strangers_kept": r.strangers_kept,
                **{f"{k}_interval": [v.low, v.high] for k, v in rates.items()},
                "eer": r.eer,
                "eer_threshold": r.eer_threshold,
                "threshold": threshold,
            }
        )
        table.add_row(
            r.corpus,
            r.duration,
            r.noise,
            _share(rates["right"], r.right, r.member_requests),
            _share(rates["wrong"], r.wrong, r.member_requests),
            _share(rates["strangers_kept"], r.strangers_kept, r.stranger_requests),
            f"{100 * r.eer:.1f} %",
        )
    return table


def _share(interval: Interval, k: int, n: int) -> str:
    if n == 0:
        return "-"
    return f"{100 * k / n:.1f} % [{100 * interval.low:.1f}, {100 * interval.high:.1f}] ({k}/{n})"


def _babble_files(folder: Path | None) -> list[Path]:
    if folder is None:
        return []
    if not folder.is_dir():
        raise click.BadParameter(f"{folder}: not a folder", param_hint="--babble")
    files = sorted(f for f in folder.rglob("*") if f.suffix.lower() in (".wav", ".flac", ".ogg"))
    if not files:
        raise click.BadParameter(f"{folder}: no audio files in it", param_hint="--babble")
    return files


def _emit_hidden(out: Output, corpus: str, folds: list[Fold], confidence: float) -> None:
    """Each held-out speaker's threshold and counts, then the counts pooled over them."""
    table = Table(
        title=f"hidden speakers: {corpus}, each speaker filed at a threshold chosen without "
        f"them (3 s requests, report half, {int(confidence * 100)} % intervals)"
    )
    for column in (
        "held out",
        "threshold",
        "noise",
        "right member",
        "wrong member",
        "strangers kept",
    ):
        table.add_column(column)
    for fold in folds:
        for r in fold.rows:
            out.emit(
                {
                    "event": "hidden_fold",
                    "corpus": corpus,
                    "held_out": fold.held_out,
                    "threshold": fold.threshold,
                    "noise": r.noise,
                    **_counts(r),
                }
            )
            table.add_row(
                escape(fold.held_out),
                f"{fold.threshold:.3f}",
                r.noise,
                f"{r.right}/{r.member_requests}",
                f"{r.wrong}/{r.member_requests}",
                f"{r.strangers_kept}/{r.stranger_requests}",
            )
    thresholds = [f.threshold for f in folds]
    for r in pool_folds(folds):
        rates = r.rates(confidence)
        out.emit(
            {
                "event": "hidden",
                "corpus": corpus,
                "noise": r.noise,
                "folds": len(folds),
                "thresholds": thresholds,
                **_counts(r),
                **{f"{k}_interval": [v.low, v.high] for k, v in rates.items()},
            }
        )
        table.add_row(
            "all",
            f"{min(thresholds):.3f}-{max(thresholds):.3f}",
            r.noise,
            _share(rates["right"], r.right, r.member_requests),
            _share(rates["wrong"], r.wrong, r.member_requests),
            _share(rates["strangers_kept"], r.strangers_kept, r.stranger_requests),
        )
    out.table(table)


def _counts(r: ConditionResult) -> dict[str, int]:
    return {
        "member_requests": r.member_requests,
        "right": r.right,
        "wrong": r.wrong,
        "stranger_requests": r.stranger_requests,
        "strangers_kept": r.strangers_kept,
    }
