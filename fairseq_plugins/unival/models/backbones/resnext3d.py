"""3-D ResNeXt video encoder (Kinetics ResNeXt-3D, cardinality 32, shortcut type B).

Stem: 7x7x7 conv with stride (1, 2, 2) + BN + ReLU + 3x3x3 max-pool (stride 2, pad 1).
Stages of planes 128/256/512/1024 with bottleneck expansion 2 (so 256/512/1024/2048
output channels); stages 2-4 stride 2 in time, height and width. The 3-stage variant
(names without ``all_``) ends at 1024 channels.
"""

from typing import Optional, Sequence

import torch
from torch import nn

from .common import check_layers, init_resnet_weights

RESNEXT3D_LAYERS = {
    "resnext50": [3, 4, 6, 3],
    "resnext101": [3, 4, 23, 3],
    "resnext152": [3, 8, 36, 3],
}


class ResNeXtBottleneck3d(nn.Module):
    """x: (B, inplanes, T, H, W) -> (B, planes * 2, T/s, H/s, W/s).

    1x1x1 conv -> grouped 3x3x3 conv (stride s) -> 1x1x1 conv, each with BatchNorm3d;
    the inner width is ``cardinality * (planes // 32)``.
    """

    expansion = 2

    def __init__(self, inplanes: int, planes: int, cardinality: int = 32, stride: int = 1):
        super().__init__()
        mid = cardinality * (planes // 32)
        out_planes = planes * self.expansion
        self.conv1 = nn.Conv3d(inplanes, mid, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm3d(mid)
        self.conv2 = nn.Conv3d(
            mid, mid, kernel_size=3, stride=stride, padding=1, groups=cardinality, bias=False
        )
        self.bn2 = nn.BatchNorm3d(mid)
        self.conv3 = nn.Conv3d(mid, out_planes, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm3d(out_planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: Optional[nn.Sequential] = None
        if stride != 1 or inplanes != out_planes:
            self.downsample = nn.Sequential(
                nn.Conv3d(inplanes, out_planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm3d(out_planes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + shortcut)


class ResNeXt3D(nn.Module):
    """x: (B, 3, T, H, W) -> (B, C, t, h, w), C = 1024 (3 stages) or 2048 (4 stages).

    With 4 stages: t = ceil(T/16)-ish (8 frames -> 1) and h = H/32 (224 px -> 7).
    """

    def __init__(self, layers: Sequence[int], cardinality: int = 32):
        super().__init__()
        if len(layers) not in (3, 4):
            raise ValueError(f"ResNeXt-3D needs 3 or 4 block counts, got {list(layers)}")
        layers = check_layers(layers, len(layers), "ResNeXt-3D")
        self.conv1 = nn.Conv3d(3, 64, kernel_size=7, stride=(1, 2, 2), padding=3, bias=False)
        self.bn1 = nn.BatchNorm3d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(kernel_size=3, stride=2, padding=1)
        inplanes = 64
        for idx, (planes, blocks) in enumerate(zip((128, 256, 512, 1024), layers)):
            stride = 1 if idx == 0 else 2
            stage = [ResNeXtBottleneck3d(inplanes, planes, cardinality, stride)]
            inplanes = planes * ResNeXtBottleneck3d.expansion
            stage += [ResNeXtBottleneck3d(inplanes, planes, cardinality) for _ in range(blocks - 1)]
            self.add_module(f"layer{idx + 1}", nn.Sequential(*stage))
        self.num_stages = len(layers)
        self.out_channels = inplanes
        init_resnet_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for idx in range(self.num_stages):
            x = getattr(self, f"layer{idx + 1}")(x)
        return x


def build_resnext3d(name: str, layers: Optional[Sequence[int]] = None) -> ResNeXt3D:
    """``resnext{50,101,152}`` (3 stages, 1024 ch) or ``all_resnext{50,101,152}`` (4, 2048).

    ``layers`` overrides the block counts (its length must match the stage count).
    """
    all_stages = name.startswith("all_")
    base = name[len("all_") :] if all_stages else name
    if base not in RESNEXT3D_LAYERS:
        raise ValueError(
            f"unknown video encoder {name!r}; expected resnext50/101/152 "
            "with an optional 'all_' prefix"
        )
    n_stages = 4 if all_stages else 3
    if layers is None:
        layers = RESNEXT3D_LAYERS[base][:n_stages]
    layers = check_layers(layers, n_stages, name)
    return ResNeXt3D(layers)
