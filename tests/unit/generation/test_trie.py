"""Answer trie, training constraint masks and the trie-restricted beam search.

Token ids are small made-up integers (BOS 0, PAD 1, EOS 2); the answer set is
{[5], [5, 6], [7, 8]}, so the expected children are read off the set by hand.
"""

import math

import pytest
import torch
from fairseq.data import Dictionary
from fairseq.models import FairseqDecoder, FairseqEncoder, FairseqEncoderDecoderModel

from unival.generation import UnivalSequenceGenerator
from unival.generation.trie import AnswerTrie, TrieLogitMask, answer_constraint_mask

BOS, PAD, EOS = 0, 1, 2
ANSWERS = [[5], [5, 6], [7, 8]]


@pytest.fixture()
def trie():
    return AnswerTrie.from_answers(ANSWERS, bos=BOS, eos=EOS)


def test_children_follow_the_answer_set(trie):
    assert trie.next_tokens([BOS]) == [5, 7]
    assert trie.next_tokens([BOS, 5]) == [EOS, 6]
    assert trie.next_tokens([BOS, 5, 6]) == [EOS]
    assert trie.next_tokens([BOS, 7]) == [8]
    assert trie.next_tokens([BOS, 7, 8, EOS]) == []
    assert trie.next_tokens([BOS, 6]) == []  # off the trie
    assert trie.contains([5]) and trie.contains([5, 6]) and trie.contains([7, 8])
    assert not trie.contains([7]) and not trie.contains([6])
    with pytest.raises(ValueError, match="BOS"):
        trie.insert([5, EOS])


def test_training_mask_allows_trie_children_only_on_answer_rows(trie):
    # prev_output [BOS q1 q2 5 6], target [pad pad 5 6 EOS]: answer rows 2, 3, 4
    mask = answer_constraint_mask(trie, target_length=5, answer=[5, 6], vocab_size=10)
    assert mask.shape == (5, 10) and mask.dtype == torch.bool
    allowed = [sorted(torch.nonzero(row).flatten().tolist()) for row in mask]
    assert allowed == [[], [], [5, 7], [EOS, 6], [EOS]]
    with pytest.raises(ValueError):
        answer_constraint_mask(trie, target_length=2, answer=[5, 6], vocab_size=10)


def test_logit_mask_waits_for_the_prefix_then_renormalises_over_children(trie):
    mask = TrieLogitMask(trie, answer_start=3)
    lprobs = torch.log_softmax(torch.arange(10, dtype=torch.float).repeat(2, 1), dim=-1)
    # two columns decoded (BOS + one prefix token): the prefix is still being forced
    assert torch.equal(mask(torch.tensor([[BOS, 4], [BOS, 4]]), lprobs), lprobs)
    at_start = mask(torch.tensor([[BOS, 4, 4]]), lprobs[:1])
    assert torch.isfinite(at_start[0]).nonzero().flatten().tolist() == [5, 7]
    # row 0 has decoded answer token 7, row 1 answer token 5
    out = mask(torch.tensor([[BOS, 4, 4, 7], [BOS, 4, 4, 5]]), lprobs)
    assert torch.isinf(out[0]).sum() == 9 and out[0, 8] == pytest.approx(0.0)  # only 8 after 7
    finite = torch.isfinite(out[1]).nonzero().flatten().tolist()
    assert finite == [EOS, 6]
    # logits 2 and 6 renormalised: p(6) = e^6 / (e^2 + e^6)
    assert out[1, 6].item() == pytest.approx(6 - math.log(math.exp(2) + math.exp(6)), abs=1e-5)
    assert not TrieLogitMask(trie, 3, renormalize=False)(
        torch.tensor([[BOS, 4, 4, 5]]), lprobs[:1]
    )[0, 6] == pytest.approx(out[1, 6].item())


class _Encoder(FairseqEncoder):
    def forward(self, src_tokens, src_lengths=None, **kwargs):
        return {"encoder_out": [src_tokens.float()]}

    def reorder_encoder_out(self, encoder_out, new_order):
        return {"encoder_out": [encoder_out["encoder_out"][0].index_select(0, new_order)]}


class _PreferringDecoder(FairseqDecoder):
    """Strongly prefers token 9 (never an answer), then 6, then 5, at every position."""

    def forward(self, prev_output_tokens, encoder_out=None, **kwargs):
        bsz, length = prev_output_tokens.shape
        logits = torch.zeros(bsz, length, len(self.dictionary))
        logits[:, :, 9] = 20.0
        logits[:, :, 6] = 10.0
        logits[:, :, 5] = 3.0
        return logits, None


def test_beam_search_with_the_mask_only_produces_candidates(trie):
    dictionary = Dictionary()
    for i in range(12):
        dictionary.add_symbol(f"w{i}")
    model = FairseqEncoderDecoderModel(_Encoder(dictionary), _PreferringDecoder(dictionary))
    model.eval()
    prefix = torch.tensor([[4, 4], [4, 4]])
    sample = {
        "id": torch.tensor([0, 1]),
        "net_input": {
            "src_tokens": torch.tensor([[4, 4, EOS], [4, 4, EOS]]),
            "src_lengths": torch.tensor([3, 3]),
        },
    }
    generator = UnivalSequenceGenerator(
        [model],
        dictionary,
        logit_masks=[TrieLogitMask(trie, answer_start=3)],
        beam_size=3,
        max_len_b=10,
    )
    hypos = generator.generate([model], sample, prefix_tokens=prefix)
    for sentence in hypos:
        for hypo in sentence:
            tokens = hypo["tokens"].tolist()
            assert tokens[:2] == [4, 4] and tokens[-1] == EOS
            assert tokens[2:-1] in ANSWERS, tokens
        # renormalised over the children: [5, 6] scores
        # log(e^3 / (e^3 + 1)) + log(e^10 / (e^10 + 1)),
        # above [7, 8] (log(1 / (e^3 + 1))) and [5] (... + log(1 / (e^10 + 1)))
        assert sentence[0]["tokens"].tolist() == [4, 4, 5, 6, EOS]
    unmasked = UnivalSequenceGenerator([model], dictionary, beam_size=3, max_len_b=4).generate(
        [model], sample, prefix_tokens=prefix
    )
    assert 9 in unmasked[0][0]["tokens"].tolist()  # without the mask the model's favourite wins
