"""Experts trained side by side (``unival.demo.schedule``): which experts wait for which, and
that chains really run at the same time while each chain keeps its order."""

import json
import threading

import pytest

from unival.demo.schedule import ExpertPool, expert_chains, run_chains

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
                if runner.pool.unfinished == 1:
                    break
                threading.Event().wait(0.01)
        elif label == "refcoco":
            first_seen.wait(timeout=3)

    runner.run_experts(["caption", "vqa", "refcoco"], {"vqa": "caption"}, step)
    one = {"OMP_NUM_THREADS": "1"}
    assert seen == {"caption": one, "refcoco": one, "vqa": {}}
    assert runner.pool.unfinished == 0 and runner.thread_env() == {}
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


def test_chains_submitted_later_take_the_first_free_worker_and_count_as_unfinished():
    """A second submission (the media stage's chains) waits behind the running chains and
    starts on the first worker that frees, while the other first chain still runs."""
    pool = ExpertPool(2)
    events, lock = [], threading.Lock()
    release_long = threading.Event()

    def record(name):
        with lock:
            events.append(name)

    def long_chain():
        record("caption")
        release_long.wait(timeout=3)
        record("caption done")

    try:
        first = pool.submit([[long_chain], [lambda: record("refcoco")]])
        later = pool.submit([[lambda: (record("video"), release_long.set())]])
        pool.wait(first + later)
    finally:
        pool.shutdown()
    # video ran on refcoco's worker while caption still held the other: it released caption
    assert events.index("video") < events.index("caption done")
    assert events.index("refcoco") < events.index("video")
    assert pool.unfinished == 0 and not pool.side_by_side()


def test_one_worker_runs_a_submission_in_the_caller_and_keeps_the_failure_for_wait():
    pool = ExpertPool(1)
    ran = []

    def broken():
        raise RuntimeError("vqa/train.sh failed")

    futures = pool.submit([[broken, lambda: ran.append("after")], [lambda: ran.append("b")]])
    assert ran == ["b"] and all(f.done() for f in futures)  # inline, the broken chain stopped
    with pytest.raises(RuntimeError, match="vqa/train.sh failed"):
        pool.wait(futures)
    assert pool.unfinished == 0


class _Stage:
    def __init__(self, name, run):
        self.name, self.run = name, run


def test_the_media_stage_runs_beside_the_image_experts_once_they_are_queued(tmp_path):
    """run_stages with two workers: the media stage starts when the multitask stage calls
    ctx.experts_queued, before the multitask stage returns; with one worker they run in turn."""
    from unival.demo.context import DemoContext
    from unival.demo.pipeline import run_stages

    ctx = DemoContext(out=tmp_path, seed=0, env={}, pool=ExpertPool(2))
    media_running = threading.Event()

    def multitask(ctx):
        ctx.experts_queued()
        assert media_running.wait(timeout=3), "the media stage did not start beside the experts"
        return {"tasks": "image"}

    def media(ctx):
        media_running.set()
        return {"tasks": "media"}

    report = {"device": "cpu"}
    stages = [_Stage("multitask", multitask), _Stage("media", media)]
    run_stages(stages, ctx, report, tmp_path / "report.json")
    expected = {"device": "cpu", "multitask": {"tasks": "image"}, "media": {"tasks": "media"}}
    assert report == expected
    assert json.loads((tmp_path / "report.json").read_text()) == expected
    assert ctx.experts_queued is None

    order = []
    ctx.pool = ExpertPool(1)
    stages = [
        _Stage("multitask", lambda ctx: order.append(("multitask", ctx.experts_queued))),
        _Stage("media", lambda ctx: order.append(("media", None))),
    ]
    run_stages(stages, ctx, {}, tmp_path / "report.json")
    assert order == [("multitask", None), ("media", None)]


def test_a_failing_media_stage_started_early_fails_the_run(tmp_path):
    from unival.demo.context import DemoContext
    from unival.demo.pipeline import run_stages

    ctx = DemoContext(out=tmp_path, seed=0, env={}, pool=ExpertPool(2))

    def media(ctx):
        raise RuntimeError("video_caption/train.sh failed (exit 1)")

    def multitask(ctx):
        ctx.experts_queued()
        return {}

    report = {}
    with pytest.raises(RuntimeError, match="video_caption/train.sh failed"):
        run_stages(
            [_Stage("multitask", multitask), _Stage("media", media)],
            ctx,
            report,
            tmp_path / "report.json",
        )
    assert list(report) == ["multitask"]


def test_when_both_stages_fail_the_first_is_raised_and_the_second_is_logged(tmp_path, caplog):
    from unival.demo.context import DemoContext
    from unival.demo.pipeline import run_stages

    ctx = DemoContext(out=tmp_path, seed=0, env={}, pool=ExpertPool(2))

    def media(ctx):
        raise RuntimeError("audio_caption/train.sh failed (exit 1)")

    def multitask(ctx):
        ctx.experts_queued()
        raise RuntimeError("vqa/train.sh failed (exit 1)")

    stages = [_Stage("multitask", multitask), _Stage("media", media)]
    with pytest.raises(RuntimeError, match="vqa/train.sh"):
        run_stages(stages, ctx, {}, tmp_path / "report.json")
    assert "the media stage failed too: audio_caption/train.sh failed" in caplog.text
