"""Named sizes of the ``unival`` model (``unival_base``/``unival_large`` as released, plus
smaller ones).

Each function fills only the attributes that are absent (fairseq getattr-default
semantics, so an official checkpoint's explicit values always win) and then defers to the
next larger default set; ``unival_large`` holds the shared defaults. Besides the original
architecture defaults they also set the "de-facto architecture" that every official run
script passes (pre-LN, NormFormer scaling, ``--disable-entangle``, timm ResNet-101 image
encoder, all-stage ResNeXt-101 video encoder), so that ``unival_base`` builds the model of
the released checkpoints. Pass ``video_encoder_name="none"`` for an image-only model.
"""

from fairseq.models import register_model_architecture

_TRUE_BY_DEFAULT = (
    "encoder_normalize_before",
    "decoder_normalize_before",
    "encoder_learned_pos",
    "decoder_learned_pos",
    "share_decoder_input_output_embed",
    "share_all_embeddings",
    "no_scale_embedding",
    "layernorm_embedding",
    "add_type_embedding",
    "patch_layernorm_embedding",
    "code_layernorm_embedding",
    # flags of every official run script (the de-facto architecture)
    "scale_attn",
    "scale_fc",
    "scale_heads",
    "disable_entangle",
)


def _default(args, name: str, value) -> None:
    if not hasattr(args, name):
        setattr(args, name, value)


def _sizes(args, dim: int, ffn: int, layers: int, heads: int) -> None:
    _default(args, "encoder_embed_dim", dim)
    _default(args, "encoder_ffn_embed_dim", ffn)
    _default(args, "encoder_layers", layers)
    _default(args, "encoder_attention_heads", heads)
    _default(args, "decoder_layers", layers)
    _default(args, "decoder_attention_heads", heads)


@register_model_architecture("unival", "unival_large")
def unival_large_architecture(args):
    """d 1024, FFN 4096, 12+12 layers, 16 heads, ResNet-152; the shared defaults."""
    _sizes(args, 1024, 4096, 12, 16)
    _default(args, "decoder_embed_dim", args.encoder_embed_dim)
    _default(args, "decoder_ffn_embed_dim", args.encoder_ffn_embed_dim)
    _default(args, "decoder_output_dim", args.decoder_embed_dim)
    _default(args, "decoder_input_dim", args.decoder_embed_dim)
    for name in _TRUE_BY_DEFAULT:
        _default(args, name, True)
    _default(args, "image_encoder_name", "timm_resnet")
    _default(args, "resnet_type", "resnet152")
    _default(args, "video_encoder_name", "all_resnext101")


@register_model_architecture("unival", "unival_base")
def unival_base_architecture(args):
    """d 768, FFN 3072, 6+6 layers, 12 heads, ResNet-101 (the released model)."""
    _sizes(args, 768, 3072, 6, 12)
    _default(args, "resnet_type", "resnet101")
    unival_large_architecture(args)


@register_model_architecture("unival", "unival_medium")
def unival_medium_architecture(args):
    """OFA-medium sizes: d 512, FFN 2048, 4+4 layers, 8 heads, ResNet-101."""
    _sizes(args, 512, 2048, 4, 8)
    unival_base_architecture(args)


@register_model_architecture("unival", "unival_huge")
def unival_huge_architecture(args):
    """OFA-huge sizes: d 1280, FFN 5120, 24+12 layers, 16 heads, ResNet-152."""
    _default(args, "decoder_layers", 12)
    _sizes(args, 1280, 5120, 24, 16)
    _default(args, "resnet_type", "resnet152")
    unival_large_architecture(args)


@register_model_architecture("unival", "unival_tiny")
def unival_tiny_architecture(args):
    """Tests and demos: d 128, FFN 512, 2+2 layers, 2 heads of 64 (the parity fixture's
    transformer), OFA ResNet-50 image and ResNeXt-50 video backbones at depth [1, 1, 1]."""
    _sizes(args, 128, 512, 2, 2)
    _default(args, "image_encoder_name", "resnet")
    _default(args, "resnet_type", "resnet50")
    _default(args, "resnet_layers", "1,1,1")
    _default(args, "video_encoder_name", "resnext50")
    _default(args, "video_layers", "1,1,1")
    unival_base_architecture(args)
