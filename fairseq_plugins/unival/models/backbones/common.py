"""Pieces shared by the 2-D ResNet backbones: stochastic depth and the bottleneck block.

Parameter names (``conv1``/``bn1``/``conv2``/``bn2``/``conv3``/``bn3``/``downsample.{0,1}``)
follow the torchvision/timm convention used by the released UnIVAL checkpoints.
"""

from typing import Optional

import torch
from torch import nn


def drop_path(x: torch.Tensor, drop_prob: float, training: bool) -> torch.Tensor:
    """Stochastic depth: zero whole samples of a residual branch with probability ``drop_prob``.

    x: (B, ...) -> (B, ...). Kept samples are rescaled by ``1 / (1 - drop_prob)``.
    Identity when ``drop_prob == 0`` or not ``training``.
    """
    if drop_prob == 0.0 or not training:
        return x
    keep_prob = 1.0 - drop_prob
    mask_shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    keep = torch.empty(mask_shape, dtype=x.dtype, device=x.device).bernoulli_(keep_prob)
    return x * keep / keep_prob


class DropPath(nn.Module):
    """Module wrapper of :func:`drop_path` (no parameters)."""

    def __init__(self, drop_prob: float = 0.0):
        super().__init__()
        self.drop_prob = float(drop_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.drop_prob, self.training)

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob}"


class Bottleneck2d(nn.Module):
    """ResNet v1.5 bottleneck (stride on the 3x3 conv), expansion 4.

    x: (B, inplanes, H, W) -> (B, planes * 4, H / stride, W / stride).
    ``downsample`` (1x1 strided conv + BN, registered as ``downsample.0``/``.1``) is built
    when the shape changes. ``drop_path_rate`` > 0 adds stochastic depth on the branch.
    """

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, drop_path_rate: float = 0.0):
        super().__init__()
        out_planes = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_planes, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: Optional[nn.Sequential] = None
        if stride != 1 or inplanes != out_planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, out_planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_planes),
            )
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(shortcut + self.drop_path(out))


def make_bottleneck_stage(
    inplanes: int, planes: int, blocks: int, stride: int, drop_path_rates: list
) -> nn.Sequential:
    """``blocks`` bottlenecks; the first one carries ``stride``; block i gets
    ``drop_path_rates[i]``."""
    if blocks < 1:
        raise ValueError(f"a stage needs at least one block, got {blocks}")
    if len(drop_path_rates) != blocks:
        raise ValueError(f"{len(drop_path_rates)} drop-path rates for {blocks} blocks")
    layers = [Bottleneck2d(inplanes, planes, stride, drop_path_rates[0])]
    for i in range(1, blocks):
        layers.append(Bottleneck2d(planes * Bottleneck2d.expansion, planes, 1, drop_path_rates[i]))
    return nn.Sequential(*layers)


def init_resnet_weights(module: nn.Module) -> None:
    """Kaiming-normal (fan_out, relu) convs, BatchNorm weight 1 / bias 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def check_layers(layers, n_stages: int, what: str) -> list:
    """Validate a per-stage block-count override and return it as a list of ints."""
    layers = [int(n) for n in layers]
    if len(layers) != n_stages or any(n < 1 for n in layers):
        raise ValueError(f"{what} needs {n_stages} positive block counts, got {layers}")
    return layers
