"""Spend models: the value of a purchase."""

from .gamma_gamma import GammaGammaModel

__all__ = ["GammaGammaModel"]
