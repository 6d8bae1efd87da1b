"""The Perplexity page: a text, its measurement, a token heatmap and the history of runs."""
