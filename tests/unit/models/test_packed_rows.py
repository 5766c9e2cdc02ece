"""Training on the real positions only (``unival.models.layers.packed_rows``).

The fast path packs a training batch's real positions, (N, C), through the encoder and
decoder layers; these tests check the row bookkeeping, that training really packs (the
pads come back as zeros), and that logits and gradients equal the plain path's, with
stochastic depth dropping the same samples.
"""

import torch
from fast_path_cases import assert_grads_close, loss_and_grads, make_batch, make_model

from unival.models.layers import DropPath
from unival.models.layers.packed_rows import PackedRows
from unival.models.perf import plain_path

PADS = torch.tensor(
    [
        [False, False, False, True],
        [False, True, True, True],
        [False, False, False, False],
    ]
)


def test_rows_are_the_real_positions_batch_major():
    rows = PackedRows.from_padding(PADS)
    assert rows.index.tolist() == [0, 1, 2, 4, 8, 9, 10, 11]
    assert rows.batch_ids.tolist() == [0, 0, 0, 1, 2, 2, 2, 2]
    x = torch.arange(3 * 4 * 2, dtype=torch.float).view(3, 4, 2)  # (B, T, C)
    packed = rows.pack(x)
    assert torch.equal(packed, x[~PADS])
    back = rows.unpack(packed)
    assert torch.equal(back[~PADS], x[~PADS]) and not back[PADS].any()


def test_heads_round_trip_through_the_padded_layout():
    rows = PackedRows.from_padding(PADS)
    gen = torch.Generator().manual_seed(0)
    packed = torch.randn(8, 3 * 6, generator=gen)  # q, k, v side by side, 2 heads of 3
    q, k, v = rows.to_heads(packed, heads=2, parts=3)
    assert q.shape == (3, 2, 4, 3)
    padded_k = rows.unpack(packed[:, 6:12])  # (B, T, 6)
    assert torch.equal(k, padded_k.view(3, 4, 2, 3).transpose(1, 2))
    assert torch.equal(rows.from_heads(v), packed[:, 12:])


def test_drop_path_drops_the_same_samples_packed_or_padded():
    rows = PackedRows.from_padding(PADS)
    drop = DropPath(0.5).train()
    x = torch.ones(4, 3, 5)  # (T, B, C)
    torch.manual_seed(3)
    padded = drop(x)
    torch.manual_seed(3)
    packed = drop(rows.pack(x.transpose(0, 1)), rows)
    assert torch.equal(packed, rows.pack(padded.transpose(0, 1)))
    kept = padded[0, :, 0].ne(0).tolist()
    assert kept.count(True) not in (0, 3)  # the seed drops some samples and keeps others


def test_training_packs_the_real_positions_and_eval_does_not():
    model = make_model().train()
    net_input, prev = make_batch()
    text_pads = net_input["src_tokens"].eq(1)
    encoder_out = model.encoder(**net_input)
    memory = encoder_out["encoder_out"][0]  # (S, B, C): patches then text
    text = memory[-text_pads.size(1) :].transpose(0, 1)
    assert not text[text_pads].any() and text[~text_pads].abs().min() > 0
    features, _ = model.decoder(prev, encoder_out, features_only=True)
    assert not features[prev.eq(1)].any() and features[prev.ne(1)].abs().min() > 0

    model.eval()
    with torch.no_grad():
        memory = model.encoder(**net_input)["encoder_out"][0]
    assert memory[-text_pads.size(1) :].transpose(0, 1)[text_pads].abs().min() > 0


def test_packed_training_with_stochastic_depth_equals_the_plain_path():
    model = make_model(encoder_drop_path_rate=0.5, decoder_drop_path_rate=0.5).train()
    net_input, prev = make_batch()
    torch.manual_seed(7)
    with plain_path():
        plain = loss_and_grads(model, net_input, prev)
    torch.manual_seed(7)
    fast = loss_and_grads(model, net_input, prev)
    torch.manual_seed(8)
    other_seed = loss_and_grads(model, net_input, prev)
    assert not torch.allclose(other_seed[0], plain[0], atol=1e-3)  # the drops matter
    torch.testing.assert_close(fast[0], plain[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fast[1], plain[1], atol=1e-6, rtol=1e-5)
    assert_grads_close(fast[2], plain[2])


def test_packed_training_under_bf16_autocast_stays_near_the_plain_path():
    """The packed rows keep the autocast dtypes (index_copy needs matching ones)."""
    model = make_model().train()
    net_input, prev = make_batch()
    real = prev.ne(1)
    logits = {}
    for plain in (True, False):
        with plain_path(plain), torch.autocast("cpu", dtype=torch.bfloat16):
            out, _ = model(**net_input, prev_output_tokens=prev)
        out[real].float().logsumexp(-1).sum().backward()  # the backward runs too
        logits[plain] = out[real].float().detach()
        model.zero_grad(set_to_none=True)
    assert logits[False].dtype == torch.float32 and logits[False].abs().max() > 0.1
    torch.testing.assert_close(logits[False], logits[True], atol=0.02, rtol=0.02)
