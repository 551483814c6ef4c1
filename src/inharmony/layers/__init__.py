"""Building blocks of DIRL: BFI (feature integration), MDA (attention), GGD (decoder)."""

from inharmony.layers.bfi import BFIThree, BFITwo, PreActConv
from inharmony.layers.ggd import GGDBlock, GGDDecoder
from inharmony.layers.mda import MDA

__all__ = ["BFIThree", "BFITwo", "GGDBlock", "GGDDecoder", "MDA", "PreActConv"]
