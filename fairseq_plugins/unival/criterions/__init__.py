"""UnIVAL criterions; importing this package registers them with fairseq."""
from unival.criterions.label_smoothed_ce import (  # noqa: F401
    AdjustLabelSmoothedCrossEntropyConfig,
    AdjustLabelSmoothedCrossEntropyCriterion,
    label_smoothed_nll_loss,
    parse_constraint_range,
)
