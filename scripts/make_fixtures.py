#!/usr/bin/env python3
"""Make keepmum's committed audio fixtures with espeak-ng, and check them with openWakeWord.

Why a script and committed WAVs: the project may not ship anyone's recordings, so its test audio
is synthetic, made here from fixed espeak-ng settings and seeded noise. espeak-ng's output can
change between its versions, so the WAVs this script wrote are the fixtures: tests read the
committed files and never regenerate them. Rerun the script only to change the fixtures, then
look at its verification table before committing.

Writes into ``sim/data/`` (16 kHz mono int16 WAV):

- one clip per entry of :data:`CLIPS` (positives, negatives, near misses, wake-then-silence);
- ``household.wav``: about a minute of a home (talk, a television, a real wake with a request, a
  near miss, a wake word followed by nothing), and ``household.expect.json``, the events the device
  must report on it (the format ``keepmum replay --expect`` reads);
- ``fixtures.json``: the manifest tests iterate over (file, kind, model, text, scores).

Verification uses openWakeWord 0.5.1's own ``Model(..., inference_framework="onnx").predict_clip``
(1 s of zero padding each side: exactly how ``keepmum replay`` frames a file), and again with the
clip shifted by 20/40/60 ms so that a fixture does not pass by the luck of one frame alignment
(the microphone test and resampled copies are not frame-aligned). A positive must reach
:data:`POSITIVE_MIN` on its model at every alignment; a negative or near miss must stay below
:data:`NEGATIVE_MAX` on every model at every alignment. Any failure exits 1 and writes nothing
that a test would read as good.

Usage::

    python scripts/make_fixtures.py              # regenerate sim/data/ and verify
    python scripts/make_fixtures.py --verify     # only verify the committed files
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = REPO / "sim" / "data"
SAMPLE_RATE = 16000
FRAME_SAMPLES = 1280
PAD_S = 1.0
"""Zero padding each side when scoring: predict_clip's default, and keepmum replay's."""
ALIGNMENT_SHIFTS = (0, 320, 640, 960)
"""Extra lead-in samples (0, 20, 40, 60 ms) at which every clip is scored."""
MODELS = ("alexa", "hey_jarvis", "hey_mycroft", "hey_rhasspy", "timer", "weather")
POSITIVE_MIN = 0.7
"""Lowest score (over alignments) a positive must reach on its model."""
NEGATIVE_MAX = 0.5
"""Score no negative / near miss may reach on any model at any alignment (the default threshold)."""
NOISE_DBFS = -50.0
"""Level (RMS) of the seeded pink room noise under every clip."""
SPEECH_PEAK = 0.5
"""Peak level of foreground speech (about -6 dBFS)."""
THRESHOLD = 0.5
REFRACTORY_FRAMES = 25
"""keepmum's default refractory period (2 s) in 80 ms frames, for the household's expected wakes."""
SPEECH_TIMEOUT_S = 5.0
SILENCE_S = 0.7
"""keepmum's default wait for a request (from the wake word's end) and end-of-utterance
silence, for expected event times."""


@dataclass(frozen=True)
class Voice:
    """One espeak-ng voice setting."""

    name: str
    rate_wpm: int = 150
    pitch: int = 50

    def args(self) -> list[str]:
        return ["-v", self.name, "-s", str(self.rate_wpm), "-p", str(self.pitch)]


@dataclass(frozen=True)
class Clip:
    """A fixture clip: spoken parts separated by short pauses, over room noise."""

    name: str
    kind: str
    """``positive``, ``negative``, ``near_miss`` or ``wake_then_silence``."""
    model: str
    """The model a positive or wake-then-silence clip wakes; ``""`` for the others."""
    text: str
    """What is said, as written for people (``Hey Mycroft``)."""
    parts: tuple[str, ...]
    """What espeak-ng is given, one part per utterance (``Hey Mike-roft``: see the README)."""
    voice: Voice
    lead_s: float = 0.5
    tail_s: float = 1.0
    gap_s: float = 0.35
    television: bool = False
    """Mix the speech under a music-like tone bed, band-limited like a TV speaker."""


GB = Voice("en-gb")
GB_RP = Voice("en-gb-x-rp")
GB_LANC = Voice("en-gb-x-gbclan")
M3 = Voice("en+m3")
US = Voice("en-us")
US_F3 = Voice("en-us+f3", 160)
US_F2 = Voice("en-us+f2")

CLIPS: tuple[Clip, ...] = (
    # Positives: a wake word, then a request.
    Clip(
        "alexa_time",
        "positive",
        "alexa",
        "Alexa, what time is it?",
        ("Alexa", "what time is it?"),
        GB,
    ),
    Clip(
        "alexa_lights",
        "positive",
        "alexa",
        "Alexa, turn off the bedroom lights.",
        ("Alexa", "turn off the bedroom lights."),
        M3,
    ),
    Clip(
        "hey_jarvis_kitchen",
        "positive",
        "hey_jarvis",
        "Hey Jarvis, turn on the kitchen lights.",
        ("Hey Jarvis", "turn on the kitchen lights."),
        GB_RP,
    ),
    Clip(
        "hey_mycroft_news",
        "positive",
        "hey_mycroft",
        "Hey Mycroft, read me the news.",
        ("Hey Mike-roft", "read me the news."),
        GB,
    ),
    Clip(
        "hey_rhasspy_music",
        "positive",
        "hey_rhasspy",
        "Hey Rhasspy, play some music.",
        ("Hey Rhasspy", "play some music."),
        GB_LANC,
    ),
    # A wake word and then nothing: the device must discard it as a likely false wake.
    Clip("alexa_then_silence", "wake_then_silence", "alexa", "Alexa", ("Alexa",), GB, tail_s=2.5),
    Clip(
        "hey_jarvis_then_silence",
        "wake_then_silence",
        "hey_jarvis",
        "Hey Jarvis",
        ("Hey Jarvis",),
        US,
        tail_s=2.5,
    ),
    # Negatives: ordinary talk and a television (faster speech, shorter margins: smaller files).
    Clip(
        "talk_salt",
        "negative",
        "",
        "Could you pass me the salt, please?",
        ("Could you pass me the salt, please?",),
        Voice("en-us", 170),
        lead_s=0.3,
        tail_s=0.5,
    ),
    Clip(
        "talk_cat",
        "negative",
        "",
        "Did you remember to feed the cat? Yes, this morning.",
        ("Did you remember to feed the cat?", "Yes, this morning."),
        Voice("en-us+f3", 170),
        lead_s=0.3,
        tail_s=0.5,
    ),
    Clip(
        "television",
        "negative",
        "",
        "Tonight on the news: markets fall as storms sweep the coast. (over music)",
        ("Tonight on the news: markets fall as storms sweep the coast.",),
        Voice("en-us", 170),
        lead_s=0.3,
        tail_s=0.3,
        television=True,
    ),
    # Near misses: sound like a wake word, must not wake.
    Clip(
        "near_alexander",
        "near_miss",
        "",
        "Alexander, what time is it?",
        ("Alexander, what time is it?",),
        Voice("en-gb", 170),
        lead_s=0.3,
        tail_s=0.5,
    ),
    Clip(
        "near_alex",
        "near_miss",
        "",
        "Alex, dinner is ready.",
        ("Alex, dinner is ready.",),
        Voice("en-gb", 170),
        lead_s=0.3,
        tail_s=0.5,
    ),
    Clip(
        "near_election",
        "near_miss",
        "",
        "The election is next week.",
        ("The election is next week.",),
        Voice("en+m3", 170),
        lead_s=0.3,
        tail_s=0.5,
    ),
    Clip(
        "near_hey_marvin",
        "near_miss",
        "",
        "Hey Marvin, turn on the lights.",
        ("Hey Marvin, turn on the lights.",),
        Voice("en-gb-x-rp", 170),
        lead_s=0.3,
        tail_s=0.5,
    ),
    Clip(
        "near_mycroft",
        "near_miss",
        "",
        "Mycroft is a character in Sherlock Holmes.",
        ("Mycroft is a character in Sherlock Holmes.",),
        Voice("en-gb", 170),
        lead_s=0.3,
        tail_s=0.5,
    ),
)


@dataclass
class Scene:
    """The household scenario as a list of timed pieces (seconds from the file's start)."""

    pieces: list[tuple[float, np.ndarray]] = field(default_factory=list)
    cursor_s: float = 0.0
    marks: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Start and end (seconds) of each named piece, for the expected events."""

    def pause(self, seconds: float) -> None:
        self.cursor_s += seconds

    def add(self, audio: np.ndarray, mark: str | None = None) -> None:
        start = self.cursor_s
        self.pieces.append((start, audio))
        self.cursor_s += len(audio) / SAMPLE_RATE
        if mark:
            self.marks[mark] = (start, self.cursor_s)

    def render(self, tail_s: float, seed_name: str) -> np.ndarray:
        total = round((self.cursor_s + tail_s) * SAMPLE_RATE)
        out = pink_noise(total, seed_name)
        for start_s, audio in self.pieces:
            i = round(start_s * SAMPLE_RATE)
            out[i : i + len(audio)] += audio
        return out


# --- synthesis -----------------------------------------------------------------------------


def espeak_version() -> str:
    done = subprocess.run(["espeak-ng", "--version"], check=True, capture_output=True, text=True)
    return done.stdout.strip()


def speak(text: str, voice: Voice, peak: float = SPEECH_PEAK) -> np.ndarray:
    """espeak-ng's rendering of ``text`` at 16 kHz float32, its own silences trimmed."""
    wav = subprocess.run(
        ["espeak-ng", *voice.args(), "--stdout", text], check=True, capture_output=True
    ).stdout
    audio, rate = sf.read(io.BytesIO(wav), dtype="float32")
    audio = soxr.resample(audio, rate, SAMPLE_RATE).astype(np.float32)
    loud = np.flatnonzero(np.abs(audio) > 1e-3)
    if len(loud) == 0:
        raise SystemExit(f"espeak-ng produced silence for {text!r} ({voice})")
    audio = audio[loud[0] : loud[-1] + 1]
    return audio * np.float32(peak / float(np.max(np.abs(audio))))


def seed_of(name: str) -> int:
    """A stable seed per clip name (Python's hash() is salted per process)."""
    return zlib.crc32(name.encode())


def pink_noise(samples: int, seed_name: str, dbfs: float = NOISE_DBFS) -> np.ndarray:
    """Seeded pink (1/f) noise at ``dbfs`` RMS: a quiet room, so VAD sees realistic non-speech."""
    rng = np.random.default_rng(seed_of("noise:" + seed_name))
    spectrum = np.fft.rfft(rng.standard_normal(samples))
    freqs = np.fft.rfftfreq(samples, 1 / SAMPLE_RATE)
    spectrum[1:] /= np.sqrt(freqs[1:])
    spectrum[0] = 0
    noise = np.fft.irfft(spectrum, samples)
    noise *= 10 ** (dbfs / 20) / np.sqrt(np.mean(noise**2))
    return noise.astype(np.float32)


def band_limit(audio: np.ndarray, low_hz: float, high_hz: float) -> np.ndarray:
    """A brick-wall band-pass (a small TV speaker)."""
    spectrum = np.fft.rfft(audio)
    freqs = np.fft.rfftfreq(len(audio), 1 / SAMPLE_RATE)
    spectrum[(freqs < low_hz) | (freqs > high_hz)] = 0
    return np.fft.irfft(spectrum, len(audio)).astype(np.float32)


def music_bed(seconds: float, seed_name: str, peak: float = 0.12) -> np.ndarray:
    """A music-like tone mix: a chord progression with harmonics, plucked envelopes and a bass."""
    rng = np.random.default_rng(seed_of("music:" + seed_name))
    n = round(seconds * SAMPLE_RATE)
    out = np.zeros(n, np.float64)
    chords = [
        (261.6, 329.6, 392.0),
        (220.0, 261.6, 329.6),
        (174.6, 220.0, 261.6),
        (196.0, 246.9, 293.7),
    ]
    beat = round(0.5 * SAMPLE_RATE)
    t = np.arange(beat) / SAMPLE_RATE
    envelope = np.exp(-3.0 * t) * np.minimum(1.0, t / 0.01)
    for k, start in enumerate(range(0, n, beat)):
        chord = chords[(k // 2) % len(chords)]
        note = np.zeros(beat)
        for f in chord:
            f *= 1 + rng.uniform(-0.002, 0.002)
            for h, amp in ((1, 1.0), (2, 0.4), (3, 0.2)):
                note += amp * np.sin(2 * np.pi * f * h * t)
        note += 1.2 * np.sin(2 * np.pi * chord[0] / 2 * t)
        piece = note * envelope
        out[start : start + beat] += piece[: n - start]
    out *= peak / np.max(np.abs(out))
    return out.astype(np.float32)


def television(parts: Sequence[np.ndarray], seed_name: str, gap_s: float = 0.4) -> np.ndarray:
    """Speech from a TV: band-limited, quieter, over music that starts before and ends after."""
    speech = join(parts, gap_s)
    speech = band_limit(speech, 250.0, 4000.0)
    speech *= np.float32(0.3 / np.max(np.abs(speech)))
    lead = round(0.4 * SAMPLE_RATE)
    total = len(speech) + 2 * lead
    mix = music_bed(total / SAMPLE_RATE, seed_name)
    mix[lead : lead + len(speech)] += speech
    return mix


def join(parts: Sequence[np.ndarray], gap_s: float) -> np.ndarray:
    gap = np.zeros(round(gap_s * SAMPLE_RATE), np.float32)
    pieces: list[np.ndarray] = []
    for i, part in enumerate(parts):
        if i:
            pieces.append(gap)
        pieces.append(part)
    return np.concatenate(pieces)


def render_clip(clip: Clip) -> np.ndarray:
    spoken = [speak(p, clip.voice) for p in clip.parts]
    body = television(spoken, clip.name) if clip.television else join(spoken, clip.gap_s)
    lead = round(clip.lead_s * SAMPLE_RATE)
    out = pink_noise(lead + len(body) + round(clip.tail_s * SAMPLE_RATE), clip.name)
    out[lead : lead + len(body)] += body
    return out


def to_int16(audio: np.ndarray) -> np.ndarray:
    return (np.clip(audio, -1.0, 1.0) * 32767).round().astype(np.int16)


def render_household() -> tuple[np.ndarray, dict[str, tuple[float, float]]]:
    """About a minute of a home; returns the audio and where each named piece is."""
    s = Scene()
    s.pause(1.5)
    s.add(speak("Morning. Did you remember to feed the cat?", GB), "talk1")
    s.pause(0.6)
    s.add(speak("Yes, before breakfast. Are you driving to work today?", US_F3, 0.45), "talk2")
    s.pause(0.6)
    s.add(speak("No, I think the train leaves at half past six.", GB), "talk3")
    s.pause(1.2)
    s.add(
        television(
            [
                speak("Tonight on the news: markets fall as storms sweep the coast.", US),
                speak("In sport, the home team wins again.", US),
                speak(
                    "And now, the weather for the weekend: "
                    "sunshine in the south, rain in the north.",
                    US,
                ),
            ],
            "household-tv1",
        ),
        "tv1",
    )
    s.pause(1.5)
    s.add(speak("Alexa", GB), "wake1")
    s.pause(0.35)
    s.add(speak("what time is it?", GB), "request1")
    s.pause(2.5)
    s.add(speak("Alexander, the election is on Thursday.", US_F3, 0.45), "near_miss")
    s.pause(1.0)
    s.add(speak("Mycroft is a character in Sherlock Holmes.", GB), "near_miss2")
    s.pause(1.5)
    s.add(speak("Alexa", M3), "wake2")
    # Longer than the device's wait for a request (5 s): the talk after it is the room's.
    s.pause(6.0)
    s.add(speak("Never mind. Let's go.", US_F3, 0.45), "talk4")
    s.pause(1.0)
    s.add(
        television(
            [
                speak("Coming up after the break: a new recipe for the holidays.", US),
            ],
            "household-tv2",
        ),
        "tv2",
    )
    return s.render(tail_s=1.5, seed_name="household"), s.marks


# --- verification with openWakeWord's own code ----------------------------------------------


@dataclass(frozen=True)
class Scores:
    """Each model's highest score over a clip."""

    exact: dict[str, float]
    """At keepmum replay's framing (1 s of padding, no shift)."""
    worst: dict[str, float]
    """The lowest of the highest scores over the alignment shifts."""
    best: dict[str, float]
    """The highest over the alignment shifts."""


class Scorer:
    """openWakeWord 0.5.1's Model and predict_clip, one model set loaded once."""

    def __init__(self) -> None:
        import openwakeword  # heavy; only needed here

        self.model = openwakeword.Model(wakeword_models=list(MODELS), inference_framework="onnx")

    def frames(self, pcm: np.ndarray, shift: int = 0) -> dict[str, np.ndarray]:
        """Per-frame scores per model (timer: max over its labels), predict_clip's framing."""
        self.model.reset()
        clip = np.concatenate([np.zeros(shift, np.int16), pcm])
        preds = self.model.predict_clip(clip, padding=round(PAD_S))
        out: dict[str, np.ndarray] = {}
        for model in MODELS:
            keys = [
                k for k in preds[0] if k.startswith(model) or (model == "timer" and "timer" in k)
            ]
            out[model] = np.array([max(p[k] for k in keys) for p in preds])
        # Flush the feature buffer so the next clip starts from silence.
        self.model.predict_clip(np.zeros(3 * SAMPLE_RATE, np.int16), padding=0)
        return out

    def max_scores(self, pcm: np.ndarray) -> Scores:
        """Each model's highest score over the clip, at replay's framing and at every shift."""
        per_shift = [self.frames(pcm, shift) for shift in ALIGNMENT_SHIFTS]
        peaks = [{m: float(s[m].max()) for m in MODELS} for s in per_shift]
        return Scores(
            exact={m: round(peaks[0][m], 4) for m in MODELS},
            worst={m: round(min(p[m] for p in peaks), 4) for m in MODELS},
            best={m: round(max(p[m] for p in peaks), 4) for m in MODELS},
        )


def check_clip(kind: str, model: str, scores: Scores) -> list[str]:
    """Problems with one clip's scores (empty when it is a good fixture)."""
    problems: list[str] = []
    if kind in ("positive", "wake_then_silence"):
        low = scores.worst[model]
        if low < POSITIVE_MIN:
            problems.append(f"{model} reaches only {low} at the worst alignment (< {POSITIVE_MIN})")
        others = {m: v for m, v in scores.best.items() if m != model and v >= NEGATIVE_MAX}
        if others:
            problems.append(f"other models fire too: {others}")
    else:
        fired = {m: v for m, v in scores.best.items() if v >= NEGATIVE_MAX}
        if fired:
            problems.append(f"fires {fired} (must stay < {NEGATIVE_MAX})")
    return problems


def wake_frames(scores: np.ndarray) -> list[int]:
    """Frames where a model fires under keepmum's default rule (threshold 0.5, 1 frame, 2 s)."""
    fired: list[int] = []
    for i, score in enumerate(scores):
        if score >= THRESHOLD and (not fired or i - fired[-1] >= REFRACTORY_FRAMES):
            fired.append(i)
    return fired


def frame_t(index: int) -> float:
    """End of padded frame ``index`` in seconds from the file's first sample: the ``t`` that
    ``keepmum replay`` gives the wake (the moment the frame that fired has been heard)."""
    return round((index + 1) * FRAME_SAMPLES / SAMPLE_RATE - PAD_S, 2)


def household_expectations(
    scorer: Scorer, pcm: np.ndarray, marks: dict[str, tuple[float, float]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The expected events of the household scenario, and any problems found making them."""
    scores = scorer.frames(pcm)
    problems: list[str] = []
    wakes = {m: wake_frames(scores[m]) for m in MODELS}
    for model in MODELS:
        if model != "alexa" and wakes[model]:
            problems.append(f"household: {model} fires at {[frame_t(i) for i in wakes[model]]}")
    alexa = [frame_t(i) for i in wakes["alexa"]]
    windows = [marks["wake1"], marks["wake2"]]
    for t in alexa:
        if not any(start - 0.2 <= t <= end + 0.8 for start, end in windows):
            problems.append(f"household: alexa fires at {t} s outside a wake word")
    if len(alexa) != 2:
        problems.append(f"household: expected 2 alexa wakes, got {alexa}")
        return [], problems
    request_end = marks["request1"][1]
    expected = [
        {"event": "wake", "model": "alexa", "t": alexa[0], "tolerance_s": 0.5},
        {
            "event": "utterance_end",
            "model": "alexa",
            "t": round(request_end + SILENCE_S, 2),
            "tolerance_s": 1.0,
        },
        {"event": "wake", "model": "alexa", "t": alexa[1], "tolerance_s": 0.5},
        {
            "event": "discarded",
            "model": "alexa",
            "t": round(marks["wake2"][1] + SPEECH_TIMEOUT_S, 2),
            "tolerance_s": 1.0,
        },
    ]
    return expected, problems


# --- main ----------------------------------------------------------------------------------


def read_pcm(path: Path) -> np.ndarray:
    pcm, rate = sf.read(path, dtype="int16")
    if rate != SAMPLE_RATE or pcm.ndim != 1:
        raise SystemExit(f"{path}: expected 16 kHz mono, got {rate} Hz, shape {pcm.shape}")
    return pcm


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder (sim/data)")
    parser.add_argument(
        "--verify",
        action="store_true",
        help="only verify the WAVs already in --out (no espeak-ng needed)",
    )
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    if not args.verify and shutil.which("espeak-ng") is None:
        print(
            "make_fixtures: espeak-ng is not installed (apt-get install espeak-ng)", file=sys.stderr
        )
        return 2
    scorer = Scorer()
    problems: list[str] = []
    entries: list[dict[str, Any]] = []

    for clip in CLIPS:
        path = out / f"{clip.name}.wav"
        if args.verify:
            pcm = read_pcm(path)
        else:
            pcm = to_int16(render_clip(clip))
            sf.write(path, pcm, SAMPLE_RATE, subtype="PCM_16")
        scores = scorer.max_scores(pcm)
        clip_problems = check_clip(clip.kind, clip.model, scores)
        problems += [f"{path.name}: {problem}" for problem in clip_problems]
        entries.append(
            {
                "file": path.name,
                "kind": clip.kind,
                "model": clip.model,
                "text": clip.text,
                "spoken": " | ".join(clip.parts),
                "voice": clip.voice.name,
                "rate_wpm": clip.voice.rate_wpm,
                "pitch": clip.voice.pitch,
                "duration_s": round(len(pcm) / SAMPLE_RATE, 3),
                "scores": scores.exact,
                "scores_min_over_alignments": scores.worst,
                "scores_max_over_alignments": scores.best,
            }
        )
        top = clip.model or max(scores.best, key=lambda m: scores.best[m])
        print(
            f"{'FAIL' if clip_problems else 'ok':4} {clip.kind:17} {path.name:28} {top:12} "
            f"exact {scores.exact[top]:.3f}  min {scores.worst[top]:.3f}  "
            f"max {scores.best[top]:.3f}"
        )

    household = out / "household.wav"
    expect_path = out / "household.expect.json"
    if args.verify:
        pcm = read_pcm(household)
        saved = json.loads((out / "fixtures.json").read_text())["household"]["marks"]
        marks = {k: (float(a), float(b)) for k, (a, b) in saved.items()}
    else:
        audio, marks = render_household()
        pcm = to_int16(audio)
        sf.write(household, pcm, SAMPLE_RATE, subtype="PCM_16")
    expected, house_problems = household_expectations(scorer, pcm, marks)
    problems += house_problems
    if args.verify:
        committed = json.loads(expect_path.read_text())
        if committed != expected:
            problems.append(f"{expect_path.name}: differs from what the audio gives: {expected}")
    print(
        f"{'ok' if not house_problems else 'FAIL':4} household          {household.name:28} "
        f"{len(pcm) / SAMPLE_RATE:.1f} s, expected {[(e['event'], e['t']) for e in expected]}"
    )

    if not args.verify:
        lines = ",\n".join(" " + json.dumps(e) for e in expected)
        expect_path.write_text(f"[\n{lines}\n]\n")
        manifest = {
            "generator": "scripts/make_fixtures.py",
            "espeak_ng": espeak_version(),
            "openwakeword": "0.5.1 (onnx), predict_clip with 1 s padding",
            "sample_rate": SAMPLE_RATE,
            "noise_dbfs": NOISE_DBFS,
            "positive_min": POSITIVE_MIN,
            "negative_max": NEGATIVE_MAX,
            "clips": entries,
            "household": {
                "file": household.name,
                "expect": expect_path.name,
                "duration_s": round(len(pcm) / SAMPLE_RATE, 3),
                "marks": {k: [round(a, 3), round(b, 3)] for k, (a, b) in marks.items()},
            },
        }
        (out / "fixtures.json").write_text(json.dumps(manifest, indent=1) + "\n")

    total = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    print(f"{len(entries)} clips + household, {total / 1e6:.2f} MB in {out}")
    if problems:
        print("\nVERIFICATION FAILED:", *problems, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
