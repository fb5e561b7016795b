"""numpy float64 kernels transcribed by hand from the paper: naive on purpose, the middle link
of the chain of trust (sympy derivation → mpmath oracle → this reference → torch kernels).
This package never imports ``ddpm_math.symbolic`` or ``ddpm_math.diffusion``, and its kernels read
nothing from a schedule but ``schedule.beta``: α, ᾱ, ᾱ_{t-1}, 1 - ᾱ and β̃ are formed from β in
:mod:`.schedule` (verification/reference/test_independence.py), so the chain
β → mpmath → float64 reference → torch shares no derived array."""
