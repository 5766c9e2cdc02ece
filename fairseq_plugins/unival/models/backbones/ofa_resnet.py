"""OFA-style 3-stage ResNet (image encoder ``resnet``; used by the parity fixture).

Same stem and bottlenecks as the timm-style network, but only stages 1-3: output
stride 16 and 1024 channels. Stochastic depth: inside each stage the rates are
``linspace(0, drop_path_rate, blocks)`` and the first block of every stage has none.
"""

from typing import Optional, Sequence

import torch
from torch import nn

from .common import check_layers, init_resnet_weights, make_bottleneck_stage

OFA_RESNET_LAYERS = {
    "resnet50": [3, 4, 6],
    "resnet101": [3, 4, 23],
    "resnet152": [3, 8, 36],
}


def stage_drop_path_rates(drop_path_rate: float, blocks: int) -> list:
    """Per-block rates of one stage: ``linspace(0, rate, blocks)`` with block 0 forced to 0."""
    if blocks == 1:
        return [0.0]
    rates = [drop_path_rate * i / (blocks - 1) for i in range(blocks)]
    rates[0] = 0.0
    return rates


class OfaResNet(nn.Module):
    """x: (B, 3, H, W) -> (B, 1024, ceil(H/16), ceil(W/16))."""

    out_channels = 1024
    stride = 16

    def __init__(self, layers: Sequence[int], drop_path_rate: float = 0.0):
        super().__init__()
        layers = check_layers(layers, 3, "OFA resnet")
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        inplanes = 64
        for idx, (planes, blocks) in enumerate(zip((64, 128, 256), layers)):
            stage = make_bottleneck_stage(
                inplanes,
                planes,
                blocks,
                1 if idx == 0 else 2,
                stage_drop_path_rates(drop_path_rate, blocks),
            )
            self.add_module(f"layer{idx + 1}", stage)
            inplanes = planes * 4
        init_resnet_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer1(x)
        x = self.layer2(x)
        return self.layer3(x)


def build_ofa_resnet(
    resnet_type: str, drop_path_rate: float = 0.0, layers: Optional[Sequence[int]] = None
) -> OfaResNet:
    """``resnet50``/``resnet101``/``resnet152``; ``layers`` overrides the 3 block counts."""
    if layers is None:
        if resnet_type not in OFA_RESNET_LAYERS:
            raise ValueError(
                f"unknown resnet_type {resnet_type!r}; expected one of {sorted(OFA_RESNET_LAYERS)}"
            )
        layers = OFA_RESNET_LAYERS[resnet_type]
    return OfaResNet(layers, drop_path_rate=drop_path_rate)
