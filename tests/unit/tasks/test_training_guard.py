"""The non-finite loss guard of every UnIVAL task's train step (unival.tasks.training_guard).

A criterion that returns NaN for chosen batches drives ``CaptionTask.train_step``: the NaN
batch is skipped with a zero gradient, counted in the logging output (and summed by
``reduce_metrics``), logged with its sample ids, and too many in a row stop training with a
FloatingPointError that says what happened.
"""

import logging

import pytest
import torch
from fairseq.logging import metrics
from test_caption_task import criterion_for, data_dir, make_task  # noqa: F401


class Optimizer:
    def backward(self, loss):
        loss.backward()


class SwitchCriterion(torch.nn.Module):
    """loss = 2 * weight, or NaN when the batch says so."""

    def forward(self, model, sample, update_num=0):
        loss = (model.weight * 2).sum()
        if sample["nan"]:
            loss = loss * float("nan")
        return (
            loss,
            1,
            {
                "loss": loss.item(),
                "nll_loss": loss.item(),
                "sample_size": 1,
                "ntokens": 3,
                "nsentences": 1,
            },
        )


def step(task, model, nan, update):
    model.zero_grad()
    sample = {"nan": nan, "id": torch.tensor([7, 9]), "nskipped": 0, "skipped": []}
    return task.train_step(sample, model, SwitchCriterion(), Optimizer(), update)


def tiny_model():
    model = torch.nn.Linear(1, 1)
    model.set_num_updates = lambda n: None
    return model


def test_nan_batches_are_skipped_counted_and_reported(data_dir, caplog):  # noqa: F811
    task = make_task(data_dir, max_nonfinite_losses=2)
    model = tiny_model()
    loss, sample_size, log = step(task, model, nan=False, update=1)
    assert log["nonfinite"] == 0 and model.weight.grad.item() == pytest.approx(2.0)
    logs = [log]
    with caplog.at_level(logging.WARNING, logger="unival.tasks.training_guard"):
        for update in (2, 3):
            loss, sample_size, log = step(task, model, nan=True, update=update)
            assert torch.isfinite(loss) and loss.item() == 0 and sample_size == 0
            assert (
                model.weight.grad is not None and model.weight.grad.item() == 0
            )  # all ranks still reduce
            assert log["nonfinite"] == 1 and log["loss"] == 0 and log["ntokens"] == 0
            logs.append(log)
    assert (
        "non-finite training loss (nan) at update 3 on samples [7, 9]: 2 such batch(es) in a row"
        in caplog.text
    )
    with metrics.aggregate(new_root=True) as agg:
        task.reduce_metrics(logs, criterion_for(task))
        assert agg.get_smoothed_values()["nonfinite"] == 2
    with pytest.raises(
        FloatingPointError,
        match=r"3 such batch\(es\) in a row, 3 in total; stopping "
        r"\(--max-nonfinite-losses 2\)",
    ):
        step(task, model, nan=True, update=4)


def test_a_finite_batch_resets_the_run_of_nan_batches(data_dir):  # noqa: F811
    task = make_task(data_dir, max_nonfinite_losses=1)
    model = tiny_model()
    for update, nan in enumerate([True, False, True, False, True], 1):
        step(task, model, nan=nan, update=update)  # never 2 in a row
    assert task.nonfinite_guard.total == 3 and task.nonfinite_guard.consecutive == 1
    strict = make_task(data_dir, max_nonfinite_losses=0)
    with pytest.raises(FloatingPointError, match="stopping"):
        step(strict, tiny_model(), nan=True, update=1)
