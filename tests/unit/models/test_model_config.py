"""Model options through fairseq's real parser, architectures and the public builder."""

import argparse
from types import SimpleNamespace

import pytest
from fairseq import options
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from fairseq.models import ARCH_MODEL_NAME_REGISTRY
from fairseq.models import build_model as fairseq_build_model

import unival
from unival.models import UnivalConfig, UnivalModel, build_model
from unival.models.builder import placeholder_dictionary
from unival.models.config import resolve_config


def _parse(*flags):
    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, ["unused-data-dir", "--task", "translation", *flags])
    return args, convert_namespace_to_omegaconf(args).model


def test_architectures_are_registered_for_the_unival_model():
    for arch in ("unival_tiny", "unival_medium", "unival_base", "unival_large", "unival_huge"):
        assert ARCH_MODEL_NAME_REGISTRY[arch] == "unival"
    assert unival.build_model is build_model


def test_every_bool_field_defaults_to_false_except_strict():
    defaults = UnivalConfig()
    bools = [f for f, spec in UnivalConfig.__dataclass_fields__.items() if spec.type is bool]
    assert {f for f in bools if getattr(defaults, f)} == {"strict"}


def test_official_flags_keep_their_meaning_through_the_parser():
    args, cfg = _parse(
        "--arch",
        "unival_base",
        "--encoder-normalize-before",
        "--decoder-normalize-before",
        "--share-all-embeddings",
        "--layernorm-embedding",
        "--patch-layernorm-embedding",
        "--scale-attn",
        "--scale-fc",
        "--scale-heads",
        "--disable-entangle",
        "--add-type-embedding",
        "--encoder-drop-path-rate",
        "0.1",
        "--dropout",
        "0.1",
    )
    for name in (
        "encoder_normalize_before",
        "decoder_normalize_before",
        "share_all_embeddings",
        "layernorm_embedding",
        "patch_layernorm_embedding",
        "scale_attn",
        "scale_fc",
        "scale_heads",
        "disable_entangle",
        "add_type_embedding",
    ):
        assert getattr(args, name) is True, name
        assert cfg[name] is True, name
    assert cfg.encoder_drop_path_rate == 0.1 and cfg.dropout == 0.1
    assert cfg.strict is True  # --strict not passed: strict loading


def test_absent_flags_get_the_architecture_defaults():
    _, cfg = _parse("--arch", "unival_base")
    assert cfg.encoder_normalize_before is True and cfg.no_scale_embedding is True
    assert cfg.scale_resids is False and cfg.entangle_position_embedding is False
    assert (cfg.encoder_embed_dim, cfg.encoder_layers, cfg.encoder_attention_heads) == (768, 6, 12)
    assert (cfg.image_encoder_name, cfg.resnet_type) == ("timm_resnet", "resnet101")
    assert cfg.video_encoder_name == "all_resnext101" and cfg.audio_encoder_name is None
    assert cfg.hop_size == 480 and cfg.mel_bins == 64 and cfg.sample_patch_num is None
    _, large = _parse("--arch", "unival_large")
    assert (large.encoder_embed_dim, large.decoder_layers, large.resnet_type) == (
        1024,
        12,
        "resnet152",
    )


def test_strict_is_a_store_false_flag_like_the_reference():
    _, cfg = _parse("--arch", "unival_tiny", "--strict")
    assert cfg.strict is False


def test_command_line_values_win_over_the_architecture_and_build():
    _, cfg = _parse(
        "--arch",
        "unival_tiny",
        "--encoder-layers",
        "3",
        "--video-encoder-name",
        "none",
        "--sample-patch-num",
        "9",
    )
    dictionary = placeholder_dictionary(40)
    task = SimpleNamespace(source_dictionary=dictionary, target_dictionary=dictionary)
    model = fairseq_build_model(cfg, task)
    assert isinstance(model, UnivalModel)
    assert len(model.encoder.layers) == 3 and len(model.decoder.layers) == 2
    assert not hasattr(model.encoder, "embed_videos")
    assert model.encoder.sample_patch_nums[unival.data.modality.Modality.VIDEO] == 9


def test_official_checkpoint_namespace_keeps_its_explicit_values():
    # an official cfg.model: explicit None video encoder (reference argparse default) and
    # extra keys this toolkit does not know
    ns = argparse.Namespace(
        arch="unival_base",
        video_encoder_name=None,
        encoder_prompt=False,
        image_encoder_name="resnet",
        scale_attn=False,
    )
    cfg = resolve_config(ns)
    assert cfg.video_encoder_name is None and cfg.image_encoder_name == "resnet"
    assert cfg.scale_attn is False and cfg.scale_fc is True and cfg.encoder_embed_dim == 768


def test_builder_dictionary_and_errors():
    model = build_model("unival_tiny", 37)
    dictionary = model.encoder.dictionary
    assert len(dictionary) == 37
    assert (dictionary.bos(), dictionary.pad(), dictionary.eos(), dictionary.unk()) == (0, 1, 2, 3)
    assert model.encoder.embed_tokens.weight.shape == (37, 128)
    assert model.decoder.output_projection.weight is model.encoder.embed_tokens.weight
    assert model.decoder.embed_tokens is model.encoder.embed_tokens
    assert model.max_positions() == (1024, 1024)
    with pytest.raises(ValueError, match="unknown model options"):
        build_model("unival_tiny", 37, encoder_layer=3)
    with pytest.raises(ValueError, match="architecture"):
        build_model("transformer", 37)
    with pytest.raises(ValueError, match="entries"):
        build_model("unival_tiny", 37, dictionary=placeholder_dictionary(38))


def test_bert_style_init():
    model = build_model("unival_tiny", 300)
    table = model.encoder.embed_tokens.weight
    assert table[1].abs().max() == 0  # padding row
    assert abs(table[4:].std().item() - 0.02) < 0.002
    rel = model.encoder.token_rel_pos_table_list[0].weight
    assert (
        abs(rel.std().item() - 0.02) < 0.003
    )  # not zero: the BERT-style init overrides the zero init, as in the reference
    layer = model.encoder.layers[0]
    assert layer.fc1.bias.abs().max() == 0 and abs(layer.fc1.weight.std().item() - 0.02) < 0.002
    assert (layer.attn_ln.weight == 1).all() and (layer.self_attn.c_attn == 1).all()
    assert layer.final_layer_norm.bias.abs().max() == 0
