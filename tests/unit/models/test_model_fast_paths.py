"""Every speed-up equals the plain path (``unival.models.perf.plain_path``).

Covered: SDPA attention with the biases as an additive mask (forward and gradients,
padded text), the flattened output projection, the incremental path's cached cross
position keys and per-sentence cross-attention memory (step by step, after arbitrary and
shrinking beam reorders, and through beam search), activation checkpointing, and the
channels-last image backbone.
"""

import pytest
import torch
from fast_path_cases import assert_grads_close, loss_and_grads, make_batch, make_model

from unival.generation.sequence_generator import UnivalSequenceGenerator
from unival.models.perf import fast_paths_enabled, plain_path


def test_the_fast_path_is_the_default_and_the_switch_selects_the_plain_one():
    assert fast_paths_enabled()
    with plain_path():
        assert not fast_paths_enabled()
    assert fast_paths_enabled()


def test_training_forward_and_gradients_equal_the_plain_path():
    model = make_model().train()
    net_input, prev = make_batch()
    with plain_path():
        plain = loss_and_grads(model, net_input, prev)
    fast = loss_and_grads(model, net_input, prev)
    torch.testing.assert_close(fast[0], plain[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fast[1], plain[1], atol=1e-6, rtol=1e-5)
    assert_grads_close(fast[2], plain[2])


def test_activation_checkpointing_keeps_outputs_and_gradients():
    """With dropout on: checkpointing must replay the same random masks."""
    net_input, prev = make_batch()
    results = []
    for flag in (False, True):
        model = make_model(dropout=0.1, checkpoint_activations=flag).train()
        assert model.encoder.checkpoint_activations is flag
        assert model.decoder.checkpoint_activations is flag
        torch.manual_seed(5)
        results.append(loss_and_grads(model, net_input, prev))
    torch.testing.assert_close(results[1][0], results[0][0], atol=1e-6, rtol=1e-6)
    assert_grads_close(results[1][2], results[0][2])


def _decode(model, net_input, prev, new_orders):
    """Incremental logits step by step; ``new_orders[t]`` reorders beams before step t."""
    enc = model.encoder(**net_input)
    enc = model.encoder.reorder_encoder_out(enc, torch.arange(prev.size(0)).repeat_interleave(2))
    prev = prev.repeat_interleave(2, dim=0)
    state, outputs = {}, []
    for t in range(prev.size(1)):
        order = new_orders.get(t)
        if order is not None:
            model.decoder.reorder_incremental_state_scripting(state, order)
            enc = model.encoder.reorder_encoder_out(enc, order)
            prev = prev.index_select(0, order)
        logits, extra = model.decoder(prev[:, : t + 1], encoder_out=enc, incremental_state=state)
        outputs.append((logits, extra["attn"][0]))
    return outputs


@torch.no_grad()
@pytest.mark.parametrize(
    "orders",
    [
        {},  # beams side by side: grouped memory, never gathered
        {2: torch.tensor([1, 1, 0, 3, 2, 2])},  # within-sentence reorders (still grouped)
        {2: torch.tensor([5, 4, 0, 1, 3, 2]), 4: torch.tensor([2, 3, 0, 1, 0, 5])},  # mixed
        {3: torch.tensor([0, 1, 4, 5])},  # sentence 1 finished: the memory shrinks
    ],
)
def test_incremental_decoding_with_beam_reorders_equals_the_plain_path(orders):
    model = make_model().eval()
    net_input, prev = make_batch()
    with plain_path():
        plain = _decode(model, net_input, prev, orders)
    fast = _decode(model, net_input, prev, orders)
    for (f_logits, f_attn), (p_logits, p_attn) in zip(fast, plain):
        torch.testing.assert_close(f_logits, p_logits, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(f_attn, p_attn, atol=1e-6, rtol=1e-5)


@torch.no_grad()
def test_beam_search_hypotheses_equal_the_plain_path():
    model = make_model().eval()
    net_input, _ = make_batch()
    generator = UnivalSequenceGenerator(
        [model], model.decoder.dictionary, beam_size=4, max_len_a=0, max_len_b=7, min_len=2
    )
    with plain_path():
        plain = generator.generate([model], {"net_input": net_input})
    fast = generator.generate([model], {"net_input": net_input})
    for f_beams, p_beams in zip(fast, plain):
        assert [b["tokens"].tolist() for b in f_beams] == [b["tokens"].tolist() for b in p_beams]
        for f, p in zip(f_beams, p_beams):
            torch.testing.assert_close(
                f["positional_scores"], p["positional_scores"], atol=1e-5, rtol=1e-5
            )
            torch.testing.assert_close(f["attention"], p["attention"], atol=1e-6, rtol=1e-5)


@torch.no_grad()
def test_channels_last_image_backbone_gives_the_same_features():
    model = make_model().eval()
    images = make_batch()[0]["patch_images"]
    backbone = model.encoder.embed_images
    plain = backbone(images)
    backbone.to(memory_format=torch.channels_last)
    fast = backbone(images.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(fast, plain, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_bf16_autocast_fast_path_is_within_the_stated_tolerance():
    """bf16 (the GPU path; run here under CPU autocast): logits within 0.02 of fp32, and
    no further from fp32 than the plain path under the same autocast (+0.005)."""
    model = make_model().eval()
    net_input, prev = make_batch()
    reference, _ = model(**net_input, prev_output_tokens=prev)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fast, _ = model(**net_input, prev_output_tokens=prev)
        with plain_path():
            plain, _ = model(**net_input, prev_output_tokens=prev)
    assert fast.dtype == torch.bfloat16
    fast_err = (fast.float() - reference).abs().max().item()
    plain_err = (plain.float() - reference).abs().max().item()
    assert fast_err < 0.02
    assert fast_err <= plain_err + 0.005
