"""Incremental decoding equals full decoding; fairseq's own SequenceGenerator drives it."""

import pytest
import torch
from fairseq.sequence_generator import SequenceGenerator

from unival.models import build_model


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("unival_tiny", 50).eval()


@pytest.fixture(scope="module")
def batch():
    torch.manual_seed(1)
    return {
        "src_tokens": torch.tensor([[0, 5, 6, 7, 8, 2], [0, 9, 10, 2, 1, 1]]),
        "src_lengths": torch.tensor([6, 4]),
        "patch_images": torch.randn(2, 3, 64, 64),
        "patch_masks": torch.tensor([True, True]),
    }


@torch.no_grad()
def test_incremental_equals_full_decoding_with_padded_prefixes(model, batch):
    prev = torch.tensor([[0, 11, 12, 13, 14, 15], [0, 16, 17, 1, 1, 1]])
    full, extra = model(**batch, prev_output_tokens=prev)
    enc = model.encoder(**batch)
    state = {}
    steps = [
        model.decoder(prev[:, : t + 1], encoder_out=enc, incremental_state=state)
        for t in range(prev.size(1))
    ]
    incremental = torch.cat([logits for logits, _ in steps], dim=1)
    torch.testing.assert_close(incremental, full, atol=1e-5, rtol=1e-5)
    attn = torch.cat([step_extra["attn"][0] for _, step_extra in steps], dim=1)
    torch.testing.assert_close(attn, extra["attn"][0], atol=1e-6, rtol=1e-5)
    assert extra["attn"][0].shape == (2, 6, 16 + 6)
    assert len(extra["inner_states"]) == 1 + 2


@torch.no_grad()
def test_greedy_search_matches_argmax_of_full_forward(model, batch):
    generator = SequenceGenerator(
        [model], model.decoder.dictionary, beam_size=1, max_len_a=0, max_len_b=5, min_len=5
    )
    hyps = generator.generate([model], {"net_input": batch}, bos_token=0)
    eos = model.decoder.dictionary.eos()
    for row in range(2):
        encoded = model.encoder(**{k: v[row : row + 1] for k, v in batch.items()})
        prefix = torch.tensor([[0]])
        for _ in range(5):  # min_len 5: eos is forbidden before step 5
            logits, _ = model.decoder(prefix, encoder_out=encoded)  # full, no cache
            step = logits[0, -1].clone()
            step[[model.decoder.dictionary.pad(), eos]] = float("-inf")
            prefix = torch.cat([prefix, step.argmax().view(1, 1)], dim=1)
        assert hyps[row][0]["tokens"][:5].tolist() == prefix[0, 1:].tolist()


@torch.no_grad()
def test_beam_search_reorders_the_cache(model, batch):
    generator = SequenceGenerator(
        [model], model.decoder.dictionary, beam_size=3, max_len_a=0, max_len_b=6
    )
    hyps = generator.generate([model], {"net_input": batch}, bos_token=0)
    eos = model.decoder.dictionary.eos()
    for row in range(2):
        encoded = model.encoder(**{k: v[row : row + 1] for k, v in batch.items()})
        for hyp in hyps[row]:
            # rescoring the hypothesis with a full forward gives its positional scores
            tokens = hyp["tokens"]
            prev = torch.cat([torch.tensor([0]), tokens[:-1]]).unsqueeze(0)
            logits, _ = model.decoder(prev, encoder_out=encoded)
            lprobs = torch.log_softmax(logits[0].float(), dim=-1)
            scores = lprobs.gather(1, tokens.unsqueeze(1)).squeeze(1)
            torch.testing.assert_close(scores, hyp["positional_scores"], atol=1e-4, rtol=1e-4)
            assert tokens[-1] == eos
