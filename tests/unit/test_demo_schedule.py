"""Experts trained side by side (``unival.demo.schedule``): which experts wait for which, and
that chains really run at the same time while each chain keeps its order."""

import threading

import pytest

from unival.demo.schedule import expert_chains, run_chains

IMAGE = ["caption", "vqa", "refcoco", "snli_ve"]
MEDIA = ["video_caption", "video_qa", "audio_caption", "audio_caption_scratch"]


def test_an_expert_waits_for_the_expert_it_starts_from_and_no_other():
    assert expert_chains(IMAGE, {"vqa": "caption"}) == [
        ["caption", "vqa"],
        ["refcoco"],
        ["snli_ve"],
    ]
    assert expert_chains(MEDIA, {"video_qa": "video_caption"}) == [
        ["video_caption", "video_qa"],
        ["audio_caption"],
        ["audio_caption_scratch"],
    ]
    assert expert_chains(IMAGE, {}) == [[name] for name in IMAGE]
    assert expert_chains(["a", "b", "c"], {"b": "a", "c": "b"}) == [["a", "b", "c"]]


def test_a_start_that_is_not_an_earlier_expert_is_refused():
    with pytest.raises(ValueError, match="vqa starts from caption"):
        expert_chains(["vqa", "caption"], {"vqa": "caption"})


def _recorder():
    events, lock = [], threading.Lock()

    def step(name, wait=None):
        def run():
            if wait is not None:
                wait.wait(timeout=3)  # BrokenBarrierError unless the others arrive too
            with lock:
                events.append(name)

        return run

    return events, step


def test_one_worker_runs_every_step_in_order():
    events, step = _recorder()
    run_chains([[step("caption"), step("vqa")], [step("refcoco")]], workers=1)
    assert events == ["caption", "vqa", "refcoco"]


def test_chains_run_at_the_same_time_and_keep_their_own_order():
    events, step = _recorder()
    barrier = threading.Barrier(3)  # three first steps that can only pass together
    chains = [
        [step("caption", barrier), step("vqa")],
        [step("refcoco", barrier)],
        [step("snli_ve", barrier)],
    ]
    run_chains(chains, workers=3)
    assert sorted(events) == sorted(["caption", "vqa", "refcoco", "snli_ve"])
    assert events.index("vqa") > events.index("caption")


def test_too_few_workers_for_the_barrier_would_deadlock_so_the_barrier_test_can_fail():
    events, step = _recorder()
    barrier = threading.Barrier(2)
    with pytest.raises(threading.BrokenBarrierError):
        run_chains([[step("a", barrier)], [step("b", barrier)]], workers=1)


def test_a_failure_stops_its_chain_lets_the_others_finish_and_is_raised():
    events, step = _recorder()

    def broken():
        raise RuntimeError("caption/train.sh failed (exit 1); see caption.train.log")

    chains = [[broken, step("vqa")], [step("refcoco")], [step("snli_ve")]]
    with pytest.raises(RuntimeError, match="caption/train.sh failed"):
        run_chains(chains, workers=3)
    assert sorted(events) == ["refcoco", "snli_ve"]


def test_workers_must_be_positive():
    with pytest.raises(ValueError, match="workers must be >= 1"):
        run_chains([], workers=0)


def test_an_expert_beside_another_gets_the_expert_threads_and_the_last_one_the_machine(tmp_path):
    """StageRunner.thread_env while run_experts runs two chains on two workers: one OpenMP
    thread each while both train, the environment's threads once one chain has finished."""
    from unival.demo.context import DemoContext
    from unival.demo.multitask import MultitaskSettings
    from unival.demo.runner import StageRunner

    settings = MultitaskSettings(parallel_experts=2, expert_threads=1)
    runner = StageRunner(DemoContext(out=tmp_path, seed=0, env={}), settings, tmp_path, tmp_path)
    seen, first_seen = {}, threading.Event()

    def step(label):
        seen[label] = runner.thread_env()
        if label == "caption":
            first_seen.set()
            for _ in range(300):  # until the refcoco chain has finished
                if runner.chains_left == 1:
                    break
                threading.Event().wait(0.01)
        elif label == "refcoco":
            first_seen.wait(timeout=3)

    runner.run_experts(["caption", "vqa", "refcoco"], {"vqa": "caption"}, step)
    one = {"OMP_NUM_THREADS": "1"}
    assert seen == {"caption": one, "refcoco": one, "vqa": {}}
    assert runner.chains_left == 0 and runner.thread_env() == {}
    alone = StageRunner(
        DemoContext(out=tmp_path, seed=0, env={}),
        MultitaskSettings(parallel_experts=1, expert_threads=1),
        tmp_path,
        tmp_path,
    )
    alone.run_experts(
        ["caption", "refcoco"], {}, lambda label: seen.update({label: alone.thread_env()})
    )
    assert seen["caption"] == seen["refcoco"] == {}
