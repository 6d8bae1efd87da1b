"""The Perplexity page: a text, its measurement, a token heatmap and the history of runs."""

from app.perplexity.heat_colors import HeatLegend, surprise_colors

__all__ = ["HeatLegend", "surprise_colors"]
