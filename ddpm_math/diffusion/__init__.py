"""Torch kernels: pure functions over (schedule, tensors), and the GaussianDiffusion facade."""
