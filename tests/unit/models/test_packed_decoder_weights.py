"""Inference-only packing of the decoder's linear weights into oneDNN's blocked layout:
the unpacked oneDNN path's outputs (to float rounding: on the build machine they agree bit
for bit from 2 rows up, but oneDNN picks its kernels per CPU), the same beam-search
hypotheses and state dict, loading and casting still work, and training is refused."""

import copy

import pytest
import torch
import torch.nn.functional as F

from unival.generation.sequence_generator import UnivalSequenceGenerator
from unival.models import build_model
from unival.models.layers import linear as linear_module
from unival.models.layers.linear import Linear, parameter_count
from unival.models.perf import plain_path

pytestmark = pytest.mark.skipif(
    not linear_module._ONEDNN_LINEAR, reason="this torch build has no oneDNN linear"
)


def _pair(in_features=48, out_features=300, bias=True):
    torch.manual_seed(0)
    plain = Linear(in_features, out_features, bias=bias)
    packed = copy.deepcopy(plain)
    assert packed.pack_for_cpu_inference_(rows=5)
    return plain, packed


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 48), (1, 48), (20, 48), (3, 7, 48), (48, 2, 3)], ids=str)
@torch.no_grad()
def test_a_packed_layer_gives_the_unpacked_layers_outputs(shape, bias):
    plain, packed = _pair(bias=bias)
    x = torch.randn(*shape)
    if shape[0] == 48:  # a transposed (non-contiguous) input, as the decoder's (T, B, C) views
        x = x.permute(1, 2, 0)
    assert packed.packed and packed.weight.is_mkldnn and not plain.packed
    torch.testing.assert_close(packed(x), plain(x), rtol=1e-6, atol=1e-6)
    with plain_path():  # the plain path unpacks the weight for F.linear
        assert torch.equal(packed(x), F.linear(x, plain.weight, plain.bias))


def test_a_packed_weight_is_no_parameter_but_stays_in_the_state_dict():
    plain, packed = _pair()
    assert [name for name, _ in packed.named_parameters()] == ["bias"]
    state = packed.state_dict()
    assert list(state) == ["weight", "bias"]
    assert not state["weight"].is_mkldnn and torch.equal(state["weight"], plain.weight)
    assert parameter_count(packed) == parameter_count(plain) == 48 * 300 + 300


@torch.no_grad()
def test_loading_a_state_dict_packs_the_new_weight():
    _, packed = _pair()
    torch.manual_seed(3)
    other = Linear(48, 300)
    packed.load_state_dict(other.state_dict())
    x = torch.randn(5, 48)
    assert packed.packed
    torch.testing.assert_close(packed(x), other(x), rtol=1e-6, atol=1e-6)
    with pytest.raises(RuntimeError, match="size mismatch"):
        packed.load_state_dict(Linear(48, 301).state_dict())
    assert packed.packed  # a failed load changes nothing
    torch.testing.assert_close(packed(x), other(x), rtol=1e-6, atol=1e-6)


@torch.no_grad()
def test_casting_a_packed_layer_unpacks_it():
    plain, packed = _pair()
    x = torch.randn(5, 48, dtype=torch.float64)
    packed.double()
    assert not packed.packed and packed.weight.dtype == torch.float64
    assert torch.equal(packed(x), F.linear(x, plain.weight.double(), plain.bias.double()))
    assert parameter_count(packed) == parameter_count(plain)  # a buffer now, still counted
    packed.float()  # back on the CPU in fp32: packed again
    assert packed.packed
    torch.testing.assert_close(packed(x.float()), plain(x.float()), rtol=1e-6, atol=1e-6)
    assert list(packed.state_dict()) == ["weight", "bias"]


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    model = build_model("unival_tiny", 60, video_encoder_name="none").eval()
    packed = copy.deepcopy(model)
    return model, packed, packed.pack_decoder_for_cpu_inference_(output_projection=False)


def test_the_decoder_layers_linear_weights_are_packed_and_nothing_else(models):
    model, packed, count = models
    layers = [
        n
        for n, m in packed.decoder.layers.named_modules()
        if isinstance(m, Linear) and not n.endswith(("encoder_attn.k_proj", "encoder_attn.v_proj"))
    ]
    # per layer: self-attention q, k, v, out; cross-attention q, out; fc1, fc2
    assert count == len(layers) == 8 * len(packed.decoder.layers)
    packed_names = {n for n, m in packed.named_modules() if isinstance(m, Linear) and m.packed}
    assert packed_names == {f"decoder.layers.{n}" for n in layers}
    assert not packed.decoder.output_projection.packed  # tied to the embedding table
    assert parameter_count(packed) == parameter_count(model)
    own, theirs = model.state_dict(), packed.state_dict()
    assert list(own) == list(theirs)
    assert all(torch.equal(own[key], theirs[key]) for key in own)


@torch.no_grad()
def test_beam_search_of_the_packed_model_finds_the_same_hypotheses(models):
    model, packed, _ = models
    gen = torch.Generator().manual_seed(1)
    sample = {
        "net_input": {
            "src_tokens": torch.randint(4, 60, (3, 6), generator=gen),
            "src_lengths": torch.full((3,), 6),
            "patch_images": torch.randn(3, 3, 64, 64, generator=gen),
            "patch_masks": torch.ones(3, dtype=torch.bool),
        }
    }
    results = []
    for m in (model, packed):
        search = UnivalSequenceGenerator([m], m.decoder.dictionary, beam_size=5, max_len_b=8)
        results.append(search.generate([m], sample))
    for mine, theirs in zip(*results):
        assert len(mine) == len(theirs) == 5
        for a, b in zip(mine, theirs):
            assert torch.equal(a["tokens"], b["tokens"])
            torch.testing.assert_close(
                a["positional_scores"], b["positional_scores"], rtol=1e-5, atol=1e-6
            )


def test_a_packed_model_refuses_training_and_stays_in_eval_mode(models):
    _, packed, _ = models
    with pytest.raises(RuntimeError, match="packed for CPU inference"):
        packed.train()
    assert packed.eval() is packed and not packed.training
    assert packed.pack_decoder_for_cpu_inference_() == 0  # already packed


def test_the_plain_path_and_other_dtypes_leave_the_model_trainable():
    torch.manual_seed(0)
    model = build_model("unival_tiny", 60, video_encoder_name="none")
    with plain_path():
        assert model.pack_decoder_for_cpu_inference_() == 0
    assert model.double().pack_decoder_for_cpu_inference_() == 0
    assert model.train().training


@torch.no_grad()
def test_a_packed_model_can_be_copied_and_pickled(models):
    import io

    _, packed, _ = models
    x = torch.randn(5, 128)
    for clone in (copy.deepcopy(packed), torch.load(_pickled(packed, io), weights_only=False)):
        layer, original = clone.decoder.layers[0].fc1, packed.decoder.layers[0].fc1
        assert layer.packed and layer.weight is not original.weight
        torch.testing.assert_close(layer(x), original(x), rtol=1e-6, atol=1e-6)
        with pytest.raises(RuntimeError, match="packed for CPU inference"):
            clone.train()
        assert clone.eval() is clone
    assert packed.decoder.layers[0].fc1.packed  # the original stays packed


def _pickled(model, io):
    buffer = io.BytesIO()
    torch.save(model, buffer)  # the whole module, as pickle does
    buffer.seek(0)
    return buffer


@torch.no_grad()
def test_the_tied_output_projection_is_packed_as_a_copy_when_asked(models):
    model, _, count = models
    packed = copy.deepcopy(model)
    assert packed.pack_decoder_for_cpu_inference_(output_projection=True) == count + 1
    projection, embeddings = packed.decoder.output_projection, packed.decoder.embed_tokens
    assert projection.packed and projection.packed_copy_of_shared
    assert isinstance(embeddings.weight, torch.nn.Parameter)  # the lookups keep the plain table
    assert torch.equal(embeddings.weight, model.decoder.embed_tokens.weight)
    assert parameter_count(packed) == parameter_count(model)
    own, theirs = model.state_dict(), packed.state_dict()
    assert list(own) == list(theirs) and all(torch.equal(own[k], theirs[k]) for k in own)
    x = torch.randn(5, 128)
    torch.testing.assert_close(
        projection(x), model.decoder.output_projection(x), rtol=1e-6, atol=1e-6
    )
