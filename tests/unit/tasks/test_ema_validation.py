"""Validation uses the EMA weights (as OFA's trainer arranges). fairseq's trainer hands
``ema_model`` to ``task.valid_step`` when ``--store-ema`` is on and the task's ``uses_ema``
is True; the UnIVAL task then validates that model instead of the trained one (fairseq's own
EMA module here)."""

import torch
from fairseq.models.ema import EMA
from omegaconf import OmegaConf
from test_caption_task import data_dir, make_task  # noqa: F401


class WeightCriterion(torch.nn.Module):
    """Reports the weight of the model it was given as the loss."""

    def forward(self, model, sample, update_num=0):
        value = model.weight.detach().sum()
        return value, 1, {"loss": value.item(), "sample_size": 1, "ntokens": 1, "nsentences": 1}


def test_validation_uses_the_ema_model(data_dir):  # noqa: F811
    task = make_task(data_dir, validate_with_ema=True)
    assert task.uses_ema  # fairseq passes ema_model only then
    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.constant_(model.weight, 1.0)
    ema = EMA(
        model,
        OmegaConf.create(
            {
                "ema_decay": 0.5,
                "ema_fp32": True,
                "ema_update_freq": 1,
                "ema_start_update": 0,
                "ema_seed_model": None,
            }
        ),
    )
    with torch.no_grad():
        model.weight.fill_(3.0)
    ema.step(model)  # 0.5 * 1 + 0.5 * 3
    sample = {"nskipped": 0, "skipped": []}
    _, _, log = task.valid_step(sample, model, WeightCriterion(), ema_model=ema.get_model())
    assert log["loss"] == 2.0
    _, _, log = task.valid_step(sample, model, WeightCriterion())
    assert log["loss"] == 3.0
    assert not make_task(data_dir).uses_ema
