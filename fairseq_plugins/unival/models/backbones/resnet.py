"""timm-style 4-stage ResNet (the production UnIVAL image encoder, ``timm_resnet``).

Stem 7x7/2 conv + BN + ReLU + 3x3/2 max-pool, four bottleneck stages of widths
64/128/256/512 (x4), output stride 32 and 2048 channels. The classifier ``fc``
(1000 x 2048) exists so official checkpoints load, but ``forward`` never calls it.
"""

from typing import Optional, Sequence

import torch
from torch import nn

from .common import check_layers, init_resnet_weights, make_bottleneck_stage

TIMM_RESNET_LAYERS = {
    "resnet50": [3, 4, 6, 3],
    "resnet101": [3, 4, 23, 3],
    "resnet152": [3, 8, 36, 3],
}


class TimmResNet(nn.Module):
    """x: (B, 3, H, W) -> (B, 2048, ceil(H/32), ceil(W/32)) (the features before pooling).

    ``drop_path_rate`` follows timm: block k of the N blocks of the whole network gets
    ``drop_path_rate * k / (N - 1)``.
    """

    out_channels = 2048
    stride = 32

    def __init__(self, layers: Sequence[int], drop_path_rate: float = 0.0, num_classes: int = 1000):
        super().__init__()
        layers = check_layers(layers, 4, "timm_resnet")
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.act1 = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

        total = sum(layers)
        rates = [drop_path_rate * k / max(total - 1, 1) for k in range(total)]
        inplanes, start = 64, 0
        for idx, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers)):
            stage = make_bottleneck_stage(
                inplanes, planes, blocks, 1 if idx == 0 else 2, rates[start : start + blocks]
            )
            self.add_module(f"layer{idx + 1}", stage)
            inplanes, start = planes * 4, start + blocks
        self.global_pool = nn.AdaptiveAvgPool2d(1)  # unused, no parameters
        self.fc = nn.Linear(2048, num_classes)  # unused, kept for checkpoint names
        init_resnet_weights(self)
        for m in self.modules():  # timm's zero_init_last: residual branches start at zero
            if hasattr(m, "bn3"):
                nn.init.zeros_(m.bn3.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.act1(self.bn1(self.conv1(x))))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return self.layer4(x)


def build_timm_resnet(
    resnet_type: str, drop_path_rate: float = 0.0, layers: Optional[Sequence[int]] = None
) -> TimmResNet:
    """``resnet50``/``resnet101``/``resnet152``; ``layers`` overrides the 4 block counts."""
    if layers is None:
        if resnet_type not in TIMM_RESNET_LAYERS:
            raise ValueError(
                f"unknown resnet_type {resnet_type!r}; expected one of {sorted(TIMM_RESNET_LAYERS)}"
            )
        layers = TIMM_RESNET_LAYERS[resnet_type]
    return TimmResNet(layers, drop_path_rate=drop_path_rate)
