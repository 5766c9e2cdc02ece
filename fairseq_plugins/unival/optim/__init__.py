"""Optimisation pieces stock fairseq lacks; importing this package registers them."""

from unival.optim.polynomial_decay_warmup_ratio import (  # noqa: F401
    PolynomialDecayWarmupRatioConfig,
    PolynomialDecayWarmupRatioSchedule,
    count_rows,
    schedule_total_updates,
)
