"""Generation pieces fairseq lacks: BOS-started beam search with per-step logit masks."""

from unival.generation.candidate_scoring import CandidateSet, predict_candidates, score_candidates  # noqa: F401
from unival.generation.logit_masks import ConstraintRangeMask, LogitMask, parse_constraint_range  # noqa: F401
from unival.generation.sequence_generator import MaskedEnsembleModel, UnivalSequenceGenerator  # noqa: F401
from unival.generation.trie import AnswerTrie, TrieLogitMask, answer_constraint_mask  # noqa: F401
