"""Training: the loop, data, checkpoints, multi-process training (imports diffusion and nn)."""
