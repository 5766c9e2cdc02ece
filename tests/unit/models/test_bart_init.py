"""Stage 1 starts from BART (as the released pretraining did): a fairseq ``bart_base``
checkpoint loads into a UnIVAL model through fairseq's own loading path.

The BART checkpoint is written by fairseq's BART model code (``bart_base`` with unival_tiny's
sizes: d 128, FFN 512, 2+2 layers, 2 heads) in the legacy layout of the released
``bart.base/model.pt`` (``args`` Namespace, ``model``, ``optimizer_history``, ...). It is read
with ``fairseq.checkpoint_utils.load_checkpoint_to_cpu`` and loaded strictly with
``model.load_state_dict(state["model"], strict=True, model_cfg=...)``, the two calls
``fairseq-train --restore-file`` makes (run_scripts/pretraining/stage1.sh).
"""

import argparse

import pytest
import torch
from fairseq import checkpoint_utils
from fairseq.data import Dictionary
from fairseq.models.bart import BARTModel
from fairseq.models.bart.model import bart_base_architecture

from unival.models import build_model
from unival.tokenizer import extend_dictionary

WORDS = [f"w{i}" for i in range(20)]
TINY = {
    "encoder_embed_dim": 128,
    "encoder_ffn_embed_dim": 512,
    "encoder_layers": 2,
    "encoder_attention_heads": 2,
    "decoder_embed_dim": 128,
    "decoder_ffn_embed_dim": 512,
    "decoder_layers": 2,
    "decoder_attention_heads": 2,
}


def text_dictionary() -> Dictionary:
    dictionary = Dictionary()
    for word in WORDS:
        dictionary.add_symbol(word)
    return dictionary


@pytest.fixture(scope="module")
def bart_checkpoint(tmp_path_factory):
    """(path, BART state dict) of a tiny bart_base checkpoint written like fairseq's model.pt."""
    torch.manual_seed(0)
    dictionary = text_dictionary()
    dictionary.add_symbol("<mask>")  # fairseq's denoising task adds it: BART's last embedding row
    args = argparse.Namespace(arch="bart_base", task="denoising", criterion="cross_entropy", **TINY)
    bart_base_architecture(args)
    task = argparse.Namespace(source_dictionary=dictionary, target_dictionary=dictionary)
    model = BARTModel.build_model(args, task)
    state = {
        "args": args,
        "model": model.state_dict(),
        "extra_state": {"train_iterator": {"epoch": 1}},
        "optimizer_history": [
            {
                "criterion_name": "CrossEntropyCriterion",
                "optimizer_name": "FairseqAdam",
                "lr_scheduler_state": {"best": None},
                "num_updates": 500000,
            }
        ],
        "last_optimizer_state": None,
    }
    path = tmp_path_factory.mktemp("bart") / "model.pt"
    torch.save(state, path)
    return path, {k: v.clone() for k, v in model.state_dict().items()}


@pytest.fixture(autouse=True)
def allow_new_modules(monkeypatch):
    """Stage 1 asks for fresh media modules on top of BART (run_scripts/lib/pretrain.sh)."""
    monkeypatch.setenv("UNIVAL_ALLOW_MISSING_WEIGHTS", "1")


def test_without_the_opt_in_bart_is_refused_naming_the_new_modules(bart_checkpoint, monkeypatch):
    from unival.models.missing_weights import MissingWeightsError

    monkeypatch.delenv("UNIVAL_ALLOW_MISSING_WEIGHTS")
    model, _ = unival_for_bart()
    state = checkpoint_utils.load_checkpoint_to_cpu(str(bart_checkpoint[0]))
    with pytest.raises(MissingWeightsError, match="is missing 200 weight") as caught:
        model.load_state_dict(state["model"], strict=True, model_cfg=model.cfg)
    assert (
        "encoder.image_proj.weight" in caught.value.keys
        and "encoder.layers.0.fc1.weight" not in caught.value.keys
    )
    assert "UNIVAL_ALLOW_MISSING_WEIGHTS=1" in str(caught.value)
    assert not any(
        key.endswith(("version", "rp_bucket", "image_position_idx")) for key in caught.value.keys
    )


def unival_for_bart():
    """unival_tiny over BART's text dictionary + <mask>, codes and bins."""
    dictionary = text_dictionary()
    extend_dictionary(dictionary, num_codes=16, num_bins=10)
    torch.manual_seed(1)
    return build_model(
        "unival_tiny",
        len(dictionary),
        dictionary=dictionary,
        image_encoder_name="resnet",
        resnet_type="resnet50",
        resnet_layers="1,1,1",
    ), dictionary


def test_bart_text_weights_load_into_unival_tiny(bart_checkpoint):
    path, bart = bart_checkpoint
    state = checkpoint_utils.load_checkpoint_to_cpu(str(path))
    assert state["cfg"].model.arch == "bart_base"  # fairseq upgraded the legacy args
    model, dictionary = unival_for_bart()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(state["model"], strict=True, model_cfg=model.cfg)
    loaded = model.state_dict()

    text_rows = len(text_dictionary()) + 1  # the text symbols and <mask>
    assert dictionary.index("<mask>") == text_rows - 1
    compared = 0
    for key, source in bart.items():
        if key.endswith(".version"):
            continue
        assert key in loaded, f"BART entry {key} has no place in the UnIVAL model"
        target = loaded[key]
        if key.endswith(("embed_tokens.weight", "output_projection.weight")):
            assert target.shape == (len(dictionary), 128)
            torch.testing.assert_close(target[:text_rows], source, rtol=0, atol=0, msg=key)
            new_rows = target[
                text_rows:
            ]  # codes and bins: N(0, d^-1/2) rows appended, as the original loader does
            assert 0.05 < new_rows.std().item() < 0.13
        else:
            assert target.shape == source.shape, key
            torch.testing.assert_close(target, source, rtol=0, atol=0, msg=key)
        compared += 1
    # per encoder layer: q/k/v/out (8), 2 LNs (4), fc1/fc2 (4); per decoder layer also the cross
    # attention (8) and its LN (2); embeddings: tokens, positions, LN (2) per side, output
    # projection
    assert compared == 2 * 16 + 2 * 26 + 4 + 4 + 1
    # the tied embedding stays one tensor; BART's position table (1024 + 2 rows) loads as is
    assert model.encoder.embed_tokens.weight is model.decoder.embed_tokens.weight
    assert loaded["encoder.embed_positions.weight"].shape == (1026, 128)
    # what BART lacks keeps the UnIVAL initialisation: media, relative positions, ...
    for key in (
        "encoder.image_proj.weight",
        "encoder.embed_images.conv1.weight",
        "encoder.layer_norm.weight",
        "encoder.layers.0.self_attn.c_attn",
        "decoder.layers.1.ffn_layernorm.weight",
        "encoder.token_rel_pos_table_list.0.weight",
    ):
        assert key not in bart and torch.equal(loaded[key], before[key]), key


def test_the_loaded_model_runs_a_text_and_image_batch(bart_checkpoint):
    path, _ = bart_checkpoint
    model, _ = unival_for_bart()
    model.load_state_dict(
        checkpoint_utils.load_checkpoint_to_cpu(str(path))["model"], model_cfg=model.cfg
    )
    model.eval()
    logits, _ = model(
        src_tokens=torch.tensor([[0, 5, 6, 2]]),
        src_lengths=torch.tensor([4]),
        prev_output_tokens=torch.tensor([[0, 7, 8]]),
        patch_images=torch.randn(1, 3, 64, 64),
        patch_masks=torch.tensor([True]),
        patch_types=torch.tensor([0]),
    )
    assert logits.shape == (1, 3, len(unival_for_bart()[1])) and torch.isfinite(logits).all()
