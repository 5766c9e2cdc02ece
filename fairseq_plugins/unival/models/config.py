"""``UnivalConfig``: every model hyper-parameter, under the reference's argparse names.

Boolean fields all default to False here. fairseq turns a ``bool`` field whose default is
True into a ``store_false`` flag, so ``--encoder-normalize-before`` (passed by every official
script) would switch it OFF. The original True defaults therefore live in the
architecture functions (:mod:`unival.models.architectures`), which fairseq applies to the
parsed arguments before it fills the remaining fields from this dataclass. The one
exception is ``strict``: the reference's ``--strict`` really is a store-false flag
(passing it means non-strict loading), so its default True is kept on purpose.
"""

import argparse
from dataclasses import dataclass, field
from typing import List, Optional

from fairseq import utils
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from omegaconf import DictConfig, OmegaConf

ACTIVATIONS = ChoiceEnum(utils.get_available_activation_fns())


def _f(default, help_text: str):
    return field(default=default, metadata={"help": help_text})


@dataclass
class UnivalConfig(FairseqDataclass):
    # transformer sizes (defaults: unival_base)
    encoder_embed_dim: int = _f(768, "encoder embedding dimension")
    encoder_ffn_embed_dim: int = _f(3072, "encoder FFN inner dimension")
    encoder_layers: int = _f(6, "number of encoder layers")
    encoder_attention_heads: int = _f(12, "encoder attention heads")
    decoder_embed_dim: int = _f(768, "decoder embedding dimension")
    decoder_ffn_embed_dim: int = _f(3072, "decoder FFN inner dimension")
    decoder_layers: int = _f(6, "number of decoder layers")
    decoder_attention_heads: int = _f(12, "decoder attention heads")
    decoder_output_dim: int = _f(768, "decoder output dimension (must equal the embed dim)")
    decoder_input_dim: int = _f(768, "decoder input dimension (must equal the embed dim)")
    max_source_positions: int = _f(1024, "maximum source (text) length")
    max_target_positions: int = _f(1024, "maximum target length")
    activation_fn: ACTIVATIONS = _f("gelu", "FFN activation")
    dropout: float = _f(0.0, "dropout probability")
    attention_dropout: float = _f(0.0, "dropout on attention probabilities")
    activation_dropout: float = _f(0.0, "dropout after the FFN activation")
    relu_dropout: float = _f(0.0, "legacy name of activation_dropout (used when that is 0)")

    # layout flags (architectures set the original True defaults; see module docstring)
    encoder_normalize_before: bool = _f(False, "pre-LayerNorm encoder blocks")
    decoder_normalize_before: bool = _f(False, "pre-LayerNorm decoder blocks")
    encoder_learned_pos: bool = _f(False, "learned encoder positions (always learned here)")
    decoder_learned_pos: bool = _f(False, "learned decoder positions (always learned here)")
    share_decoder_input_output_embed: bool = _f(False, "tie decoder input/output embeddings")
    share_all_embeddings: bool = _f(False, "one embedding for encoder, decoder and output")
    no_scale_embedding: bool = _f(False, "do not scale embeddings by sqrt(d)")
    layernorm_embedding: bool = _f(False, "LayerNorm after the token embeddings")
    add_type_embedding: bool = _f(False, "text/patch type embedding in the encoder")
    patch_layernorm_embedding: bool = _f(False, "LayerNorm after the patch embeddings")
    code_layernorm_embedding: bool = _f(False, "LayerNorm for image-code targets (decoder)")
    entangle_position_embedding: bool = _f(False, "add absolute positions to encoder inputs")
    disable_entangle: bool = _f(False, "do not add absolute positions to decoder inputs")
    scale_attn: bool = _f(False, "NormFormer LayerNorm after attention")
    scale_fc: bool = _f(False, "NormFormer LayerNorm inside the FFN")
    scale_heads: bool = _f(False, "NormFormer per-head attention gains c_attn")
    scale_resids: bool = _f(False, "NormFormer per-channel residual gains w_resid")
    sync_bn: bool = _f(False, "accepted for compatibility (synchronised BatchNorm is unused)")

    # position biases
    token_bucket_size: int = _f(256, "text relative-position bucket size")
    image_bucket_size: int = _f(42, "side of the 2-D patch position grid")
    attn_scale_factor: float = _f(2.0, "attention logits are divided by sqrt(d_h * this)")
    code_image_size: int = _f(128, "image-code target size (decoder image_position_idx)")
    orig_patch_image_size: int = _f(256, "accepted for compatibility (interpolation unused)")

    # stochastic depth
    resnet_drop_path_rate: float = _f(0.0, "drop-path rate inside the OFA-style ResNet")
    encoder_drop_path_rate: float = _f(0.0, "max drop-path rate of the encoder layers")
    decoder_drop_path_rate: float = _f(0.0, "max drop-path rate of the decoder layers")

    # modality encoders
    image_encoder_name: str = _f("timm_resnet", "image backbone: timm_resnet or resnet (OFA)")
    resnet_type: str = _f("resnet101", "resnet50, resnet101 or resnet152")
    resnet_layers: Optional[str] = _f(None, "comma-separated block counts overriding the depth")
    resnet_model_path: Optional[str] = _f(None, "local ImageNet weights for the image backbone")
    video_encoder_name: Optional[str] = _f(None, "video backbone, e.g. all_resnext101")
    video_layers: Optional[str] = _f(None, "comma-separated block counts overriding the depth")
    video_model_path: Optional[str] = _f(None, "local Kinetics weights for the video backbone")
    audio_encoder_name: Optional[str] = _f(None, "audio backbone: pann_cnn6/10/14")
    audio_model_path: Optional[str] = _f(None, "local AudioSet weights for the audio backbone")
    mel_bins: int = _f(64, "log-mel bins of the audio front end")
    hop_size: int = _f(480, "STFT hop of the audio front end (scripts use 200)")
    no_audio_spec_augment: bool = _f(
        False,
        "turn off the audio encoder's training SpecAugment (2 time stripes < 64 frames, "
        "2 mel stripes < 8 bins, sized for 10 s clips: on a 1-2 s clip they erase most of it)",
    )
    sample_patch_num: Optional[int] = _f(None, "keep k random image patches in training")
    sample_video_patch_num: Optional[int] = _f(None, "same for video (None: image value)")
    sample_audio_patch_num: Optional[int] = _f(None, "same for audio (None: image value)")

    # freezing
    freeze_encoder_embedding: bool = _f(False, "freeze the (shared) token embedding")
    freeze_decoder_embedding: bool = _f(False, "freeze the (shared) token embedding")
    freeze_encoder: bool = _f(False, "freeze the encoder except modality encoders/projections")
    freeze_decoder: bool = _f(False, "freeze the decoder")
    freeze_image_encoder: bool = _f(False, "freeze the image backbone")
    freeze_video_encoder: bool = _f(False, "freeze the video backbone")
    freeze_audio_encoder: bool = _f(False, "freeze the audio backbone")

    # initialisation (from-scratch training; a loaded checkpoint replaces these weights)
    sinusoidal_bin_init: bool = _f(
        False,
        "draw the <bin_k> token embeddings (and the tied output rows) as sinusoids of the bin "
        "index instead of random normals: neighbouring bins start alike, which lets grounding "
        "learn from scratch in far fewer updates",
    )
    sinusoidal_patch_position_init: bool = _f(
        False,
        "draw the encoder's image patch-position table as sinusoids of each cell's row and "
        "column instead of random normals",
    )

    # memory
    checkpoint_activations: bool = _f(
        False, "recompute encoder/decoder layer activations in the backward pass (saves memory)"
    )

    # loading
    strict: bool = _f(True, "passing --strict allows non-strict loading (reference flag)")


def parse_layers(value) -> Optional[List[int]]:
    """``"1,1,1"`` or ``[1, 1, 1]`` -> ``[1, 1, 1]``; None/empty -> None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return [int(v) for v in value.split(",") if v.strip()]
    return [int(v) for v in value]


def as_namespace(cfg) -> argparse.Namespace:
    """A mutable copy of ``cfg`` (Namespace, DictConfig, dict or UnivalConfig)."""
    if isinstance(cfg, argparse.Namespace):
        return argparse.Namespace(**vars(cfg))
    if isinstance(cfg, DictConfig):
        return argparse.Namespace(**OmegaConf.to_container(cfg, resolve=True))
    if isinstance(cfg, dict):
        return argparse.Namespace(**cfg)
    if isinstance(cfg, UnivalConfig):
        return argparse.Namespace(**{k: getattr(cfg, k) for k in cfg.__dataclass_fields__})
    raise TypeError(f"cannot read a model config from {type(cfg).__name__}")


def resolve_config(cfg) -> UnivalConfig:
    """Complete config: the architecture named by ``arch``/``_name`` fills absent fields
    (fairseq getattr-default semantics), then the dataclass defaults fill the rest.

    Accepts an official checkpoint's ``cfg.model`` (a Namespace with extra keys, which are
    ignored), a DictConfig from fairseq's dataclass path, a dict or a UnivalConfig.
    """
    from fairseq.models import ARCH_CONFIG_REGISTRY

    ns = as_namespace(cfg)
    arch = getattr(ns, "arch", None) or getattr(ns, "_name", None)
    if arch in ARCH_CONFIG_REGISTRY:
        ARCH_CONFIG_REGISTRY[arch](ns)
    resolved = UnivalConfig.from_namespace(ns)
    resolved._name = arch if arch in ARCH_CONFIG_REGISTRY else "unival"
    return resolved
