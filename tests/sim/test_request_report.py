"""``keepmum far --requests``' arithmetic, on hand-made per-frame facts: which wakes count, which
are misses (``--cases``), and how folders of one condition pool.

The facts are what scoring a file yields (:class:`wakeword.cache.FileScores`); the device's
decision on them is :func:`device.states.decide`, tested on its own in
``tests/device/test_states.py``. Here the frames are laid out so that each decision is plain:
80 ms frames, the replay's 1 s of padding first (frame 12 ends at 0.04 s of the file).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from device.states import SpeakerSettings
from sim.research.far import ConditionReport, RequestLabel, ScoredFile, request_report
from wakeword.cache import FileScores
from wakeword.trigger import WakeSettings

FRAMES = 120
PAD_S = 1.0
WAKE = WakeSettings(models=("m",), refractory_s=2.0)
SPEAKER = SpeakerSettings()


def t(frame: int) -> float:
    """The end of ``frame`` in seconds from the file's first sample (what labels use)."""
    return (frame + 1) * 0.08 - PAD_S


def scored(name: str, wakes: list[int], speech: list[range]) -> ScoredFile:
    """A file whose model fires on ``wakes`` and with confirmed speech on ``speech`` frames."""
    score = np.zeros(FRAMES, dtype=np.float32)
    score[wakes] = 0.9
    flags = np.zeros(FRAMES, dtype=np.bool_)
    for span in speech:
        flags[span] = True
    result = FileScores(
        scores={"m": score}, speech=flags, audio_s=FRAMES * 0.08 - 2 * PAD_S, confirmed=flags
    )
    return ScoredFile(Path("set") / name, "set", "0" * 64, result, cached=True)


def report(files: list[ScoredFile], labels: dict[str, RequestLabel]) -> ConditionReport:
    return request_report("cond", files, labels, WAKE, SPEAKER, PAD_S)


def test_a_kept_false_wake_is_a_case_and_a_discarded_one_is_not() -> None:
    # Wake word on 20-29, detection on 30; talk on 33-40 (a request to the device's eyes).
    kept = scored("kept.wav", [30], [range(20, 30), range(33, 41)])
    dropped = scored("dropped.wav", [30], [range(20, 30)])
    r = report([kept, dropped], {})
    assert (r.wakes, r.discarded, r.kept, r.late_wakes) == (2, 1, 1, 0)
    assert [(Path(c.file).name, c.what) for c in r.cases] == [("kept.wav", "false_wake_kept")]
    case = r.cases[0]
    assert case.wake_s == t(30) and case.request_end_s is None and case.kept_s > 0


def test_request_misses_are_cases_and_late_wakes_are_not_misses() -> None:
    request = RequestLabel(t(33), t(40))
    files = [
        # Kept whole: the request 33-40 after a pause.
        scored("whole.wav", [30], [range(20, 30), range(33, 41)]),
        # Kept, then the model fires again after the utterance ended (on the room): a late wake.
        scored("repeat.wav", [30, 90], [range(20, 30), range(33, 41)]),
        # The wake word missed; the model fires on the room after the request ended.
        scored("after.wav", [80], [range(33, 41)]),
        # Nothing confirmed after the wake: the request is lost.
        scored("lost.wav", [30], [range(20, 30)]),
    ]
    labels = {f.path.name: request for f in files}
    r = report(files, labels)
    assert (r.wakes, r.discarded, r.kept, r.late_wakes) == (5, 3, 2, 2)
    assert (r.requests, r.requests_kept, r.cut_short, r.over_bound) == (4, 2, 0, 0)
    what = sorted((Path(c.file).name, c.what) for c in r.cases)
    assert what == [
        ("after.wav", "late_wake"),
        ("lost.wav", "request_discarded"),
        ("repeat.wav", "late_wake"),
    ]


def test_cut_short_and_over_the_bound_are_cases() -> None:
    # The utterance ends silence_ms after 33-40; the label says the request ran to frame 70.
    cut = scored("cut.wav", [30], [range(20, 30), range(33, 41)])
    # Background talk (50-53) after a request that ended on frame 36 holds the utterance open.
    held = scored("held.wav", [30], [range(20, 30), range(33, 37), range(44, 47), range(50, 53)])
    labels = {"cut.wav": RequestLabel(t(33), t(70)), "held.wav": RequestLabel(t(33), t(36))}
    r = report([cut, held], labels)
    assert (r.kept, r.cut_short, r.over_bound) == (2, 1, 1)
    cases = {Path(c.file).name: c for c in r.cases}
    assert cases["cut.wav"].what == "cut_short" and cases["cut.wav"].end_s < t(70)
    assert cases["held.wav"].what == "over_bound"
    bound = (t(36) - t(30)) + 1.0 + 0.7 + 0.3
    assert cases["held.wav"].kept_s > bound


def test_an_utterance_over_before_its_request_began_cut_it_unless_a_later_one_covers_it() -> None:
    # The wake word (20-27) ended before the detection (30); a short phrase (32-34) is taken for
    # a request, which listens on as long as for a request (5 s), and the utterance ends (frame
    # 106) before the real request (110-117) begins.
    pieces = [range(20, 28), range(32, 35), range(110, 118)]
    lost = scored("lost.wav", [30], pieces)
    # The same, and the model fires again (108), while listening: that utterance covers it.
    again = scored("again.wav", [30, 108], pieces)
    request = RequestLabel(t(110), t(117))
    r = report([lost, again], {"lost.wav": request, "again.wav": request})
    assert (r.kept, r.requests, r.requests_kept, r.cut_short) == (3, 2, 1, 1)
    [case] = r.cases
    assert (Path(case.file).name, case.what) == ("lost.wav", "cut_short")
    assert case.end_s <= t(110) and case.request_end_s == t(117)


def test_folders_of_one_condition_pool_every_count_and_case() -> None:
    first = report([scored("a.wav", [30], [range(20, 30), range(33, 41)])], {})
    second = report([scored("a.wav", [30], [range(20, 30)])], {})
    pooled = first.pooled_with(second)
    assert (pooled.folders, pooled.files, pooled.wakes) == (2, 2, 2)
    assert (pooled.kept, pooled.discarded) == (1, 1)
    assert pooled.reasons == second.reasons and sum(pooled.reasons.values()) == 1
    assert pooled.cases == first.cases + second.cases
    line = pooled.as_dict(cases=True)
    assert line["folders"] == 2 and len(line["cases"]) == 1  # type: ignore[arg-type]
    assert "cases" not in pooled.as_dict()


def test_a_request_is_cut_where_what_is_kept_ends_not_where_the_device_stopped_listening() -> None:
    # A short request (33-35): the device listens up to frame 107 (9 + 63 frames after it) but
    # keeps only up to 44. Labelled to end on 45, it is cut; on 44, it is not.
    short = scored("short.wav", [30], [range(20, 30), range(33, 36)])
    r = report([short], {"short.wav": RequestLabel(t(33), t(45))})
    assert (r.kept, r.cut_short) == (1, 1)
    [case] = r.cases
    assert case.end_s == t(107) and case.kept_s == (44 - 30 + 13) * 0.08
    r = report([short], {"short.wav": RequestLabel(t(33), t(44))})
    assert (r.kept, r.cut_short, r.cases) == (1, 0, [])


def test_the_wake_word_scored_again_while_awake_keeps_a_late_request() -> None:
    # The model fires on the room (10), the wake word is said (14-21) and its score is over the
    # threshold again on 21 (in the refractory period: no wake), the request is said at 33-40.
    room = scored("room.wav", [10, 21], [range(14, 22), range(33, 41)])
    labels = {"room.wav": RequestLabel(t(33), t(40))}
    on = SpeakerSettings(wake_again_gap_ms=480)  # off by default since 2026-12
    r = request_report("cond", [room], labels, WAKE, on, PAD_S)
    assert (r.wakes, r.kept, r.cut_short, r.requests_kept) == (1, 1, 0, 1)
    # Without the rule the utterance ends on 30 and the request is lost.
    off = report([room], labels)
    assert (off.wakes, off.kept, off.cut_short, off.requests_kept) == (1, 1, 1, 0)
