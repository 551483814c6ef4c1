"""Bi-directional Feature Integration (BFI), DIRL reference §1.2.

Every convolution inside BFI is a pre-activation unit ``U(x) = BN(Conv3x3(ReLU(x)))``.
Upsampling is nearest-neighbour to the size of the finer map (an exact ×2 when sizes are even),
downsampling is a stride-2 unit. Each block outputs ``out_channels`` (32 in DIRL) channels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class PreActConv(nn.Sequential):
    """``BN(Conv3x3(ReLU(x)))`` with a biased conv; ``stride`` 1 or 2."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=True),
            nn.BatchNorm2d(out_channels),
        )


def upsample_nearest(x: Tensor, like: Tensor) -> Tensor:
    """Nearest-neighbour upsampling of ``x`` to the spatial size of ``like``."""
    return F.interpolate(x, size=like.shape[-2:], mode="nearest")


class BFITwo(nn.Module):
    """Two-input BFI over a fine map ``xl`` (C_l, H) and a coarse map ``xh`` (C_h, H/2).

    ``mode="h2l"`` outputs at H (used for F0), ``mode="l2h"`` outputs at H/2 (used for F4).
    """

    def __init__(self, low_channels: int, high_channels: int, out_channels: int = 32, mode: str = "h2l") -> None:
        super().__init__()
        if mode not in ("h2l", "l2h"):
            raise ValueError(f"BFITwo mode must be 'h2l' or 'l2h', got {mode!r}")
        self.mode = mode
        cl, ch = low_channels, high_channels
        self.top_down = PreActConv(ch, cl)
        self.bottom_up = PreActConv(cl, ch, stride=2)
        self.fuse_low = PreActConv(2 * cl, out_channels, stride=1 if mode == "h2l" else 2)
        self.fuse_high = PreActConv(2 * ch, out_channels)

    def forward(self, xl: Tensor, xh: Tensor) -> Tensor:
        low = torch.cat([xl + self.top_down(upsample_nearest(xh, xl)), xl], dim=1)
        high = torch.cat([xh, xh + self.bottom_up(xl)], dim=1)
        if self.mode == "h2l":
            return self.fuse_low(low) + self.fuse_high(upsample_nearest(high, xl))
        return self.fuse_low(low) + self.fuse_high(high)


class BFIThree(nn.Module):
    """Three-input BFI ("hl2m") over ``xl`` (H), ``xm`` (H/2), ``xh`` (H/4); output at H/2."""

    def __init__(self, low_channels: int, mid_channels: int, high_channels: int, out_channels: int = 32) -> None:
        super().__init__()
        cl, cm, ch = low_channels, mid_channels, high_channels
        self.high_to_mid = PreActConv(ch, cm)
        self.mid_to_low = PreActConv(cm, cl)
        self.low_to_mid = PreActConv(cl, cm, stride=2)
        self.mid_to_high = PreActConv(cm, ch, stride=2)
        self.fuse_low = PreActConv(2 * cl, out_channels, stride=2)
        self.fuse_mid = PreActConv(2 * cm, out_channels)
        self.fuse_high = PreActConv(2 * ch, out_channels)

    def forward(self, xl: Tensor, xm: Tensor, xh: Tensor) -> Tensor:
        m_td = xm + self.high_to_mid(upsample_nearest(xh, xm))
        l_td = xl + self.mid_to_low(upsample_nearest(m_td, xl))
        m_bu = xm + self.low_to_mid(xl)
        h_bu = xh + self.mid_to_high(m_bu)
        return (
            self.fuse_low(torch.cat([l_td, xl], dim=1))
            + self.fuse_mid(torch.cat([m_td, m_bu], dim=1))
            + self.fuse_high(upsample_nearest(torch.cat([xh, h_bu], dim=1), xm))
        )
