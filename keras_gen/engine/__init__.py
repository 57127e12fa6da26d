"""The training engine: strategies, the loop, checkpoints and summaries."""
