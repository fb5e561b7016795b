"""The paper's symbols, their names in code, and the timestep index convention.

This module holds no code that computes anything; it is the one place that states the
conventions every layer (``symbolic``, ``reference``, ``diffusion``) follows.

Timesteps
---------
The paper (Ho, Jain, Abbeel 2020, "DDPM") numbers diffusion steps t = 1, ..., T and writes
x_0 for the data. In code, arrays of per-step quantities have length T and are indexed
0, ..., T-1: **index t holds the paper's step t+1**. So ``beta[0]`` is β_1, ``alpha_bar[T-1]``
is ᾱ_T, and ``alpha_bar_prev[0]`` is ᾱ_0 = 1. A timestep tensor ``t`` passed to a torch kernel
holds these 0-based indices (int64). Loops over the reverse chain are marked
``# t = T-1, ..., 0``.

The symbolic layer uses the paper's 1-based symbols (β_1, ..., β_T) because it reasons about
the paper's equations directly.

Glossary (paper → code → name in the reference TF/PyTorch code, "improved-diffusion")
-------------------------------------------------------------------------------------
==========================  ==========================  ===============================
paper                       code                        improved-diffusion
==========================  ==========================  ===============================
β_t                         ``beta``                    ``betas``
α_t = 1 - β_t               ``alpha``                   ``alphas``
ᾱ_t = ∏_{s≤t} α_s           ``alpha_bar``               ``alphas_cumprod``
ᾱ_{t-1} (ᾱ_0 = 1)           ``alpha_bar_prev``          ``alphas_cumprod_prev``
β̃_t (posterior variance)    ``beta_tilde``              ``posterior_variance``
log β̃_t, t=1 entry → t=2    ``log_beta_tilde_clipped``  ``posterior_log_variance_clipped``
μ̃_t coefficient of x_0      ``mu_tilde_coef_x0``        ``posterior_mean_coef1``
μ̃_t coefficient of x_t      ``mu_tilde_coef_xt``        ``posterior_mean_coef2``
SNR(t) = ᾱ_t / (1 - ᾱ_t)    ``snr``                     (none)
x_0, x_t, x̂_0               ``x0``, ``x_t``, ``x0_hat`` ``x_start``, ``x_t``, ``pred_xstart``
ε, ε_θ                      ``eps``, ``eps_hat``        ``noise``, ``model_output``
σ_t² of the reverse step    ``sigma2``, ``log_sigma2``  ``model_variance``, ``model_log_variance``
==========================  ==========================  ===============================

Data
----
8-bit images are mapped to [-1, 1] by x = k/127.5 - 1 for k = 0, ..., 255; the discretised
decoder (DDPM eq. 13) uses bins of half-width 1/255 around each value, the first and last
bins open to -∞ and +∞.

Units
-----
Log-likelihoods and KL divergences are in nats unless a name ends in ``_bpd`` (bits per
dimension: nats / (D · ln 2) for D data dimensions).
"""

#: Half-width of one 8-bit bin in the [-1, 1] data scale: 1/255 (the bins are 2/255 wide).
BIN_HALF_WIDTH = 1.0 / 255.0

#: Number of values of an 8-bit channel.
NUM_8BIT_VALUES = 256
