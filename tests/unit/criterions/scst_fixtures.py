"""Stand-ins shared by the SCST criterion tests: a model whose logits come from the sample,
and fixed generations in place of the task's generator."""

import torch
import torch.nn.functional as F
from fairseq.data import Dictionary

BOS, PAD, EOS = 0, 1, 2


class FixedOutputModel(torch.nn.Module):
    """Returns ``logits`` from net_input whatever the decoder input; records that input."""

    def forward(self, logits, prev_output_tokens=None):
        self.prev = prev_output_tokens
        return logits[:, : prev_output_tokens.size(1)], {}

    def get_normalized_probs(self, net_output, log_probs, sample=None):
        return F.log_softmax(net_output[0].double(), dim=-1)


class FixedGenerations:
    """Stands in for ScstGenerators: the same hypotheses for every call."""

    def __init__(self, sampled, greedy=None):
        self.sampled, self.greedy = sampled, greedy

    def generate(self, model, sample, greedy=False):
        rows = self.greedy if greedy else self.sampled
        return [[torch.tensor(h) for h in row] for row in rows]


def dictionary(n_symbols: int) -> Dictionary:
    d = Dictionary()
    for i in range(n_symbols):
        d.add_symbol(f"w{i}")
    return d
