"""numpy float64 kernels transcribed by hand from the paper: naive on purpose, the middle link
of the chain of trust (sympy derivation → mpmath oracle → this reference → torch kernels).
This package never imports ``ddpm_math.symbolic`` or ``ddpm_math.diffusion``."""
