"""The studio's thread tuner keeps the faster thread count, and notices contention."""

from core.training.threads import RECHECK_EVERY, WINDOW_S, ThreadTuner


def drive(tuner: ThreadTuner, step_seconds: dict[int, float], windows: int) -> list[int]:
    """Feed steps whose duration depends on the current thread count; return the counts used per window."""
    used = []
    for _ in range(windows):
        start = tuner.windows
        while tuner.windows == start:
            used_now = tuner.current
            tuner.step_done(step_seconds[used_now])
        used.append(used_now)
    return used


def test_tries_both_counts_then_keeps_the_faster():
    calls = []
    tuner = ThreadTuner((2, 1), set_threads=calls.append)
    used = drive(tuner, {2: 0.02, 1: 0.03}, windows=10)
    assert used[:2] == [2, 1]  # measured both
    assert set(used[2:]) == {2}  # then stays on the faster
    assert calls[0] == 2 and tuner.current == 2


def test_switches_when_another_process_takes_a_core():
    tuner = ThreadTuner((2, 1), set_threads=lambda n: None)
    drive(tuner, {2: 0.02, 1: 0.03}, windows=5)
    # Contention: 2 threads now crawl (as measured on 2 cores), 1 thread barely changes.
    used = drive(tuner, {2: 0.5, 1: 0.03}, windows=4)
    assert used[-1] == 1 and tuner.current == 1
    # The contention ends: the periodic re-check finds 2 threads fast again.
    used = drive(tuner, {2: 0.02, 1: 0.03}, windows=RECHECK_EVERY + 2)
    assert tuner.current == 2 and used[-1] == 2


def test_measurement_windows_are_about_a_second_of_step_time():
    tuner = ThreadTuner((4, 3), set_threads=lambda n: None)
    steps = 0
    while tuner.windows == 0:
        tuner.step_done(0.01)
        steps += 1
    assert steps == round(WINDOW_S / 0.01)
    assert abs(tuner.rates[4] - 100) < 1e-6  # steps per second of step time
