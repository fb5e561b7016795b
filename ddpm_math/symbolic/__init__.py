"""sympy derivations that produce DDPM's closed forms from the model's definitions.

Modules share file stems with :mod:`ddpm_math.reference` and :mod:`ddpm_math.diffusion`:
``forward`` (eq. 4), ``posterior`` (eqs. 6-7, 10-11), ``parameterization`` (x_0/ε/v/score),
``kl`` (Gaussian KL, eq. 8), ``vlb`` (eqs. 5 and 12), ``decoder`` (eq. 13), ``schedule`` (cosine and
zero-terminal-SNR schedules); ``gaussian`` holds the 1-D density algebra they all use. This
package never imports ``ddpm_math.reference`` or ``ddpm_math.diffusion``.
"""
