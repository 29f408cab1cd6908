"""``keepmum voices --hidden`` and ``--join-short``: hidden speakers.

Leave-one-speaker-out on made-up embeddings (the held-out speaker must not move their own fold's
threshold), joining short files (different digits in an utterance, no file both enrols and
requests), the options' refusals, the command on espeak-ng speakers (``system``) and on the real
LibriSpeech and FSDD speakers (``shared_audio``)."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from device.sources import read_audio
from keepmum.errors import ConfigError
from sim.research.voices import (
    CorpusEmbeddings,
    Request,
    choose_over_channels,
    choose_threshold,
    embed_corpus,
    find_corpora,
    load_speaker,
    report_corpus,
    telephone_band,
    through_telephone_band,
)
from sim.research.voices_hidden import leave_one_speaker_out, pool_folds, without_speaker
from sim.research.voices_join import JOIN_GAP_S, join_plan, load_joined_speaker, take_order
from tests.conftest import require_tool
from tests.e2e.conftest import run_keepmum
from tests.sim.test_voices import ESPEAK_SPEAKERS, ESPEAK_TEXTS
from wakeword.voice import DEFAULT_VOICE_THRESHOLD, VoiceEncoder

NAMES = ("ann", "ben", "cat", "dan", "eve")
RATE = 16000


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def _fake_corpus(per_half: int = 4) -> CorpusEmbeddings:
    """Five speakers on orthogonal axes of 8 dimensions, each with ``per_half`` requests per
    half: their own axis plus noise on the three axes no one's voiceprint is on (so a score
    against another speaker's voiceprint is 0 until a test moves a vector), in quiet and babble."""
    rng = np.random.default_rng(3)
    axes = {n: np.eye(8, dtype=np.float32)[i] for i, n in enumerate(NAMES)}

    def near(axis: np.ndarray, spread: float) -> np.ndarray:
        noise = np.zeros(8, np.float32)
        noise[len(NAMES) :] = spread * np.abs(rng.normal(size=8 - len(NAMES)))
        return _unit(axis + noise)

    requests = {
        ("3s", noise): [
            Request(n, half, near(axes[n], spread))
            for n in NAMES
            for half in ("choose", "report")
            for _ in range(per_half)
        ]
        for noise, spread in (("quiet", 0.1), ("babble 10 dB", 0.5))
    }
    return CorpusEmbeddings("fake", {n: _unit(axes[n]) for n in NAMES}, requests)


def _sounds_like(corpus: CorpusEmbeddings, speaker: str, half: str, embedding: np.ndarray) -> None:
    """Every one of ``speaker``'s requests of ``half``, in every noise, becomes ``embedding``."""
    for batch in corpus.requests.values():
        for r in batch:
            if r.speaker == speaker and r.half == half:
                r.embedding = embedding


def test_without_speaker_drops_their_voiceprint_and_every_request() -> None:
    corpus = _fake_corpus()
    rest = without_speaker(corpus, "cat")
    assert list(rest.prints) == ["ann", "ben", "dan", "eve"]
    for key, batch in rest.requests.items():
        assert {r.speaker for r in batch} == {"ann", "ben", "dan", "eve"}
        assert len(batch) == len(corpus.requests[key]) * 4 // 5
    assert list(corpus.prints) == list(NAMES)  # the corpus itself is untouched


def test_a_fold_threshold_ignores_the_held_out_speakers_requests() -> None:
    """eve's choose-half requests sound like ann: every other fold, which chooses on them,
    refuses them; eve's own fold does not see them and chooses as if eve were not there."""
    corpus = _fake_corpus()
    _sounds_like(corpus, "eve", "choose", corpus.prints["ann"])
    folds = {f.held_out: f for f in leave_one_speaker_out(corpus)}
    alone = choose_threshold(without_speaker(corpus, "eve"))
    assert folds["eve"].threshold == alone < 0.6
    for name in ("ben", "cat", "dan"):
        assert folds[name].threshold > 1.0  # eve's copy of ann scores 1.0: refused
    assert folds["ann"].threshold < 0.6  # without ann's voiceprint the copy matches no one


def test_a_fold_threshold_ignores_the_held_out_speakers_voiceprint() -> None:
    """eve's voiceprint lies on ann's axis: ann's requests score high against it in every fold
    but eve's, which chooses without eve's voiceprint."""
    corpus = _fake_corpus()
    corpus.prints["eve"] = corpus.prints["ann"]
    folds = {f.held_out: f for f in leave_one_speaker_out(corpus)}
    assert folds["eve"].threshold == choose_threshold(without_speaker(corpus, "eve")) < 0.6
    for name in ("ben", "cat", "dan"):
        assert folds[name].threshold > 0.9


def test_a_fold_counts_only_the_held_out_speakers_report_half() -> None:
    """Per fold: the held-out speaker's 4 report requests, as a member in the 4 rotations that
    enrol them and as a stranger in the 1 that does not; well apart, so all filed right and
    refused as a stranger. Pooled: the same requests and rotations as the ordinary rows."""
    corpus = _fake_corpus()
    folds = leave_one_speaker_out(corpus)
    assert [f.held_out for f in folds] == list(NAMES)
    for fold in folds:
        assert [r.noise for r in fold.rows] == ["quiet", "babble 10 dB"]
        for row in fold.rows:
            assert (row.member_requests, row.stranger_requests) == (4 * 4, 4 * 1)
            assert (row.right, row.wrong, row.strangers_kept) == (16, 0, 0)
    pooled = {r.noise: r for r in pool_folds(folds)}
    ordinary = {r.noise: r for r in report_corpus(corpus, 0.5)}
    for noise, row in pooled.items():
        assert row.member_requests == ordinary[noise].member_requests == 5 * 16
        assert row.stranger_requests == ordinary[noise].stranger_requests == 5 * 4
        assert row.right == 80 and row.rotations == 5 and row.speakers == 5


def test_a_held_out_stranger_who_sounds_like_a_member_is_counted_kept() -> None:
    """eve's report requests on ann's axis: in the rotation without eve they are kept (under
    ann), in those with eve filed under eve or ann; pooling adds them to the other folds'."""
    corpus = _fake_corpus()
    _sounds_like(corpus, "eve", "report", corpus.prints["ann"])
    folds = {f.held_out: f for f in leave_one_speaker_out(corpus)}
    quiet = folds["eve"].rows[0]
    assert quiet.strangers_kept == quiet.stranger_requests == 4
    # Rotations enrolling eve: 3 of 4 also enrol ann, whose voiceprint is the exact match.
    assert (quiet.wrong, quiet.right) == (12, 0)
    (pooled_quiet, _) = pool_folds(list(folds.values()))
    assert pooled_quiet.strangers_kept == 4 and pooled_quiet.wrong == 12


def _fsdd_names(speaker: str = "sam", takes: int = 6) -> list[str]:
    return [f"{digit}_{speaker}_{take}.wav" for digit in range(10) for take in range(takes)]


def test_take_order_interleaves_digits() -> None:
    ordered = [p.name for p in take_order([Path(n) for n in sorted(_fsdd_names())])]
    assert ordered[:3] == ["0_sam_0.wav", "1_sam_0.wav", "2_sam_0.wav"]
    assert ordered[10] == "0_sam_1.wav"
    assert [p.name for p in take_order([Path("b.wav"), Path("a7.wav"), Path("a.wav")])] == [
        "a.wav",
        "b.wav",
        "a7.wav",
    ]


def test_join_plan_reaches_the_length_with_different_digits() -> None:
    """FSDD-like lengths (0.3-0.8 s): every utterance 3 s or more with its gaps, and not one
    file more than it needs; no digit twice in one; a short remainder left out."""
    names = [p.stem for p in take_order([Path(n) for n in _fsdd_names()])]
    lengths = [int(RATE * (0.3 + 0.05 * ((7 * i) % 11))) for i in range(len(names))]
    plan = join_plan(lengths, 3.0)
    gap = int(JOIN_GAP_S * RATE)
    assert len(plan) >= 8
    assert plan[0].start == 0
    for before, after in itertools.pairwise(plan):
        assert after.start == before.stop  # consecutive files, none skipped
    for group in plan:
        total = sum(lengths[i] for i in group) + gap * (len(group) - 1)
        assert total >= 3 * RATE
        assert total - lengths[group[-1]] - gap < 3 * RATE
        digits = [names[i].split("_")[0] for i in group]
        assert len(set(digits)) == len(digits), digits
    rest = lengths[plan[-1].stop :]
    assert sum(rest) + gap * max(0, len(rest) - 1) < 3 * RATE


def test_join_plan_of_long_files_is_one_file_each() -> None:
    assert join_plan([4 * RATE, 5 * RATE, RATE], 3.0) == [range(0, 1), range(1, 2)]


def test_joined_speaker_enrols_and_requests_with_different_files(tmp_path: Path) -> None:
    """Each file a constant of its own (its number): the utterances hold whole files with 0.2 s
    of silence between them; no file's constant is both in enrolment and in a request."""
    for n, name in enumerate(_fsdd_names(takes=3)):
        sf.write(tmp_path / name, np.full(int(0.5 * RATE), n + 1, np.int16), RATE)
    speaker = load_joined_speaker(tmp_path, 3, 3.0)
    assert speaker.name == tmp_path.name
    assert len(speaker.enrol) == 3 and len(speaker.requests) == 3  # 30 files of 0.5 s: 6 x 5
    enrolled = {int(v) for a in speaker.enrol for v in np.unique(a)} - {0}
    requested = {int(v) for a in speaker.requests for v in np.unique(a)} - {0}
    assert len(enrolled) == len(requested) == 15 and not enrolled & requested
    first = speaker.enrol[0]
    assert len(first) == 5 * RATE // 2 + 4 * int(JOIN_GAP_S * RATE)
    assert not first[RATE // 2 : RATE // 2 + int(JOIN_GAP_S * RATE)].any()  # the gap is silent
    with pytest.raises(
        ConfigError, match=r"30 files make 6 utterances of 3 s; 6 enrol, so at least 7"
    ):
        load_joined_speaker(tmp_path, 6, 3.0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--join-short", "2"), "--join-short"),
        (("--join-short", "nan"), "not a finite number"),
        (("--hidden", "--threshold", "0.7"), "cannot be used with --threshold"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = run_keepmum("voices", tmp_path, *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def _short_corpus(root: Path) -> Path:
    """Five speakers of eight 1-second noise files each: a corpus of short files."""
    rng = np.random.default_rng(5)
    for speaker in range(5):
        folder = root / "short" / f"s{speaker}"
        folder.mkdir(parents=True)
        for n in range(8):
            noise = rng.normal(0, 3000 * (speaker + 1), RATE).astype(np.int16)
            sf.write(folder / f"w_{n}.wav", noise, RATE)
    return root / "short"


def test_a_joined_corpus_is_never_chosen_on(tmp_path: Path) -> None:
    result = run_keepmum(
        "voices",
        _short_corpus(tmp_path),
        "--enrol",
        "1",
        "--join-short",
        "3",
        "--choose-on",
        "short-joined",
    )
    assert result.returncode == 2, result.stderr
    assert "'short-joined': a joined corpus is never chosen on" in result.stderr
    assert "Traceback" not in result.stderr


ESPEAK_VOICES = ESPEAK_SPEAKERS
SENTENCES = (*ESPEAK_TEXTS, "Remind me to water the plants tonight.")
"""test_voices' five sentences and one more: 3 enrol, 3 requests (one of them choose-half)."""
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@pytest.fixture(scope="module")
def espeak_corpora(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<root>/sentences/<voice>/<n>.wav`` (about 3 s each) and ``<root>/digits/<voice>/
    <digit>_<voice>_<take>.wav`` (two takes of ten digits, FSDD's naming)."""
    espeak = require_tool("espeak-ng")
    root = tmp_path_factory.mktemp("hidden")
    for voice in ESPEAK_VOICES:
        name = voice.replace("+", "_")
        for corpus, texts in (("sentences", SENTENCES), ("digits", DIGITS * 2)):
            folder = root / corpus / name
            folder.mkdir(parents=True)
            for n, text in enumerate(texts):
                stem = f"{n}" if corpus == "sentences" else f"{n % 10}_{name}_{n // 10}"
                speed = "140" if corpus == "sentences" else str(130 + 20 * (n // 10))
                wav = folder / f"{stem}.wav"
                subprocess.run([espeak, "-v", voice, "-s", speed, "-w", str(wav), text], check=True)
    return root


@pytest.mark.system
def test_hidden_and_joined_rows_on_espeak_speakers(espeak_corpora: Path) -> None:
    """The sentences choose; each voice held out in turn (5 folds, quiet), the pooled counts are
    the ordinary 3 s row's requests; the digits, joined, are reported on all their requests at
    the sentences' threshold and never choose."""
    result = run_keepmum(
        "voices", espeak_corpora, "--enrol", "2", "--hidden", "--join-short", "3", "--json"
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    (chosen,) = [r for r in lines if r.get("event") == "threshold"]
    assert chosen["chosen_on"] == "sentences"
    rows = {(r["corpus"], r["duration"], r["noise"]): r for r in lines if "duration" in r}
    assert ("digits-joined", "3s", "quiet") in rows
    assert ("digits-joined", "sub1s", "quiet") not in rows  # joined: 3-second requests only
    assert ("sentences-joined", "3s", "quiet") not in rows  # only corpora of short files join
    joined = rows[("digits-joined", "3s", "quiet")]
    assert joined["threshold"] == chosen["threshold"]
    # Every joined request, of both halves, once per rotation: 4 as a member, 1 as a stranger.
    joined_requests = sum(
        len(load_joined_speaker(d, 2, 3.0).requests) for d in (espeak_corpora / "digits").iterdir()
    )
    assert joined_requests >= 5
    assert joined["member_requests"] == 4 * joined_requests
    assert joined["stranger_requests"] == joined_requests
    folds = [r for r in lines if r.get("event") == "hidden_fold"]
    assert sorted(f["held_out"] for f in folds) == sorted(
        v.replace("+", "_") for v in ESPEAK_VOICES
    )
    (pooled,) = [r for r in lines if r.get("event") == "hidden"]
    ordinary = rows[("sentences", "3s", "quiet")]
    assert (
        pooled["member_requests"]
        == ordinary["member_requests"]
        == sum(f["member_requests"] for f in folds)
    )
    assert pooled["thresholds"] == [f["threshold"] for f in folds]
    assert pooled["right"] == sum(f["right"] for f in folds)
    assert all(0.0 < f["threshold"] <= 1.001 for f in folds)


@pytest.mark.shared_audio
def test_librispeech_speakers_held_out_of_their_own_threshold(shared_audio: Path) -> None:
    """Each LibriSpeech reader filed at a threshold chosen without them (3 s, quiet only, to be
    quick: the fold chooses on quiet alone here): all 116 member requests right, none wrong, no
    stranger's kept, and the folds' thresholds near the shipped one."""
    corpora = find_corpora(shared_audio / "speakers")
    speakers = [load_speaker(d) for d in corpora["librispeech"]]
    embedded = embed_corpus("librispeech", speakers, VoiceEncoder(), [], durations={"3s": 3.0})
    folds = leave_one_speaker_out(embedded)
    assert len(folds) == 5
    assert all(abs(f.threshold - DEFAULT_VOICE_THRESHOLD) < 0.05 for f in folds)
    (quiet,) = pool_folds(folds)
    assert (quiet.member_requests, quiet.stranger_requests) == (116, 29)
    assert quiet.right == 116 and quiet.wrong == 0 and quiet.strangers_kept == 0


@pytest.mark.shared_audio
def test_fsdd_joined_members_filed_right(shared_audio: Path) -> None:
    """FSDD's six speakers never chose anything: joined into 3 s, in quiet, at the shipped
    threshold, every rotation, all requests: members filed right (>= 95 %), none under another
    member; utterances hold different digits and no file both enrols and requests."""
    folders = find_corpora(shared_audio / "speakers")["fsdd"]
    for folder in folders:
        files = take_order(sorted(folder.glob("*.wav")))
        plan = join_plan([len(read_audio(f)) for f in files], 3.0)
        assert len(plan) > 3
        for group in plan:
            digits = [files[i].name.split("_")[0] for i in group]
            assert len(set(digits)) == len(digits)
    speakers = [load_joined_speaker(d, 3, 3.0) for d in folders]
    embedded = embed_corpus("fsdd-joined", speakers, VoiceEncoder(), [], durations={"3s": 3.0})
    (row,) = report_corpus(embedded, DEFAULT_VOICE_THRESHOLD, ("choose", "report"))
    assert row.rotations == 15 and row.member_requests >= 300
    assert row.right >= 0.95 * row.member_requests
    assert row.wrong == 0
    assert row.eer < 0.05


def test_a_fold_chooses_over_every_channel_without_the_held_out_speaker() -> None:
    """The telephone-band channel's choose-half requests of ben sound like ann: every fold that
    keeps ben chooses over 0.9 (the band's scores rule), ben's own fold does not see them."""
    corpus = _fake_corpus()
    band = _fake_corpus()
    _sounds_like(band, "ben", "choose", band.prints["ann"])
    folds = {f.held_out: f for f in leave_one_speaker_out(corpus, channels=[band])}
    assert folds["ben"].threshold < 0.6
    for name in ("cat", "dan", "eve"):
        assert folds[name].threshold > 1.0
    # Without the channel, no fold sees ben's copies at all.
    assert all(f.threshold < 0.6 for f in leave_one_speaker_out(corpus))


def test_the_device_threshold_is_the_highest_channels_choice() -> None:
    quiet = _fake_corpus()
    band = _fake_corpus()
    to_ann = _unit(band.prints["ann"] + band.prints["eve"])  # cosine 0.707 to ann
    _sounds_like(band, "eve", "choose", to_ann)
    assert choose_over_channels([quiet]) == choose_threshold(quiet) < 0.6
    assert choose_over_channels([quiet, band]) == choose_threshold(band) > 0.7
    assert choose_over_channels([band, quiet]) == choose_threshold(band)
    with pytest.raises(ConfigError):
        choose_over_channels([])


def test_the_telephone_band_keeps_speech_frequencies_and_drops_the_rest() -> None:
    t = np.arange(RATE) / RATE
    low = (8000 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    high = (8000 * np.sin(2 * np.pi * 6000 * t)).astype(np.int16)
    passed, dropped = telephone_band(low), telephone_band(high)
    assert passed.dtype == np.int16 and len(passed) == len(low)
    middle = slice(1000, -1000)  # away from the filters' edges
    assert np.sqrt(np.mean(passed[middle].astype(float) ** 2)) > 0.9 * 8000 / np.sqrt(2)
    assert np.sqrt(np.mean(dropped[middle].astype(float) ** 2)) < 0.01 * 8000


@pytest.mark.shared_audio
def test_the_shipped_threshold_is_what_the_rule_chooses_on_librispeech(
    shared_audio: Path,
) -> None:
    """DEFAULT_VOICE_THRESHOLD is the rule's choice, not a number typed in: the LibriSpeech
    choose half, 3 s requests in quiet and babble at 10 dB, as recorded and through a telephone
    band, the higher channel's 1 % operating point."""
    corpora = find_corpora(shared_audio / "speakers")
    speakers = [load_speaker(d) for d in corpora["librispeech"]]
    babble = sorted((shared_audio / "speech" / "silero").glob("*.wav"))
    encoder = VoiceEncoder()
    three = {"3s": 3.0}
    wide = embed_corpus("librispeech", speakers, encoder, babble, durations=three)
    narrow = embed_corpus(
        "band", through_telephone_band(speakers), encoder, babble, durations=three
    )
    assert choose_over_channels([wide, narrow]) == DEFAULT_VOICE_THRESHOLD
