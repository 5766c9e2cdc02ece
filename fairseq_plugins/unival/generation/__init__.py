"""Generation pieces fairseq lacks: BOS-started beam search with per-step logit masks."""
from unival.generation.logit_masks import ConstraintRangeMask, LogitMask, parse_constraint_range  # noqa: F401
from unival.generation.sequence_generator import MaskedEnsembleModel, UnivalSequenceGenerator  # noqa: F401
