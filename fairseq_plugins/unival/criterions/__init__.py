"""UnIVAL criterions; importing this package registers them with fairseq."""

from unival.criterions.encouraging_loss import (  # noqa: F401
    AdjustLabelSmoothedEncouragingLossConfig,
    AdjustLabelSmoothedEncouragingLossCriterion,
    encouraging_bonus,
)
from unival.criterions.label_smoothed_ce import (  # noqa: F401
    AdjustLabelSmoothedCrossEntropyConfig,
    AdjustLabelSmoothedCrossEntropyCriterion,
    label_smoothed_nll_loss,
    parse_constraint_range,
)
from unival.criterions.refcoco_scst import RefcocoScstRewardCriterion  # noqa: F401
from unival.criterions.scst_caption import ScstRewardCriterion  # noqa: F401
