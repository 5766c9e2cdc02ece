"""Biased attention and drop path against independent computations."""

import math

import pytest
import torch
import torch.nn.functional as F

from unival.models.layers import BiasedMultiheadAttention, DropPath, drop_path_rates


def _reference_attention(attn, query, key, bias, padding):
    """Same maths through torch's scaled_dot_product_attention (independent route)."""
    tgt, bsz, dim = query.shape
    heads, head_dim = attn.num_heads, dim // attn.num_heads

    def split(x):
        return x.reshape(x.size(0), bsz, heads, head_dim).permute(1, 2, 0, 3)

    q, k, v = split(attn.q_proj(query)), split(attn.k_proj(key)), split(attn.v_proj(key))
    mask = bias.clone()
    mask = mask.masked_fill(padding[:, None, None, :], float("-inf"))
    ctx = F.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, scale=1.0 / math.sqrt(head_dim * 2.0)
    )
    ctx = ctx * attn.c_attn[None, :, None, None]
    return attn.out_proj(ctx.permute(2, 0, 1, 3).reshape(tgt, bsz, dim))


def test_attention_matches_sdpa_with_bias_gain_and_padding():
    torch.manual_seed(0)
    attn = BiasedMultiheadAttention(16, 4, scale_factor=2.0, scale_heads=True).eval()
    with torch.no_grad():
        attn.c_attn.copy_(torch.tensor([0.5, 1.0, 1.5, 2.0]))
    query, key = torch.randn(3, 2, 16), torch.randn(5, 2, 16)
    bias = torch.randn(2, 4, 3, 5)
    padding = torch.tensor([[False] * 5, [False, False, False, True, True]])
    out, weights = attn(query, key, key_padding_mask=padding, attn_bias=bias, need_weights=True)
    expected = _reference_attention(attn, query, key, bias, padding)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    assert weights.shape == (2, 3, 5)
    assert weights[1, :, 3:].abs().max() == 0  # padded keys get no weight
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3))


def test_attention_uses_last_rows_and_columns_of_a_larger_bias():
    torch.manual_seed(1)
    attn = BiasedMultiheadAttention(8, 2).eval()
    query, key = torch.randn(2, 1, 8), torch.randn(4, 1, 8)
    big = torch.randn(1, 2, 6, 7)
    out_big, _ = attn(query, key, attn_bias=big)
    out_cut, _ = attn(query, key, attn_bias=big[:, :, -2:, -4:])
    torch.testing.assert_close(out_big, out_cut)


def test_drop_path_rates_and_behaviour():
    assert drop_path_rates(0.1, 6) == pytest.approx([0.0, 0.02, 0.04, 0.06, 0.08, 0.1])
    layer = DropPath(0.5)
    x = torch.ones(3, 64, 4)
    assert torch.equal(layer.eval()(x), x)
    torch.manual_seed(0)
    y = layer.train()(x)
    per_sample = y[0, :, 0]
    assert set(per_sample.unique().tolist()) <= {0.0, 2.0}  # dropped, or kept and rescaled
    assert 0 < (per_sample == 0).sum() < 64
    assert torch.equal(y, per_sample[None, :, None].expand_as(y))  # whole branch per sample
