"""GaussianDiffusion: the DDPM engine as one object, a thin facade over the pure kernels.

It validates input, converts the float64 schedule to the device and dtype of the data (cached by
:meth:`NoiseSchedule.to_torch`), calls the network, and composes the kernels of
:mod:`forward`, :mod:`posterior`, :mod:`parameterization`, :mod:`reverse`, :mod:`vlb`,
:mod:`losses` and :mod:`sampling`; it computes nothing of its own. Timesteps are 0-based int64
[B] tensors: index t is the paper's step t+1. A model is any callable ``model(x_t, t)``
returning C channels (2C with a learned variance).

Randomness: every method that draws takes ``generator=`` (or the noise itself); with neither,
draws come from torch's default generator, as ``torch.randn`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from ddpm_math.diffusion import forward, losses, parameterization, posterior, sampling, vlb
from ddpm_math.diffusion.options import DecoderType, LossType, MeanType, VarType, parse_option
from ddpm_math.diffusion.resample import UniformSampler
from ddpm_math.diffusion.respace import TimestepMap, respaced_betas, space_timesteps
from ddpm_math.diffusion.reverse import p_mean_variance
from ddpm_math.diffusion.validation import (
    check_data,
    check_eta,
    check_like,
    check_model_output,
    check_shape,
    check_timesteps,
)
from ddpm_math.schedules import NoiseSchedule, TorchSchedule

__all__ = ["GaussianDiffusion"]

Model = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class GaussianDiffusion:
    """The forward process, the reverse model p_θ, its bound and its samplers (DDPM §2-3).

    ``schedule`` is a :class:`NoiseSchedule` or an array of betas; ``mean_type``,
    ``var_type``, ``loss_type`` and ``decoder`` take the enum members of
    :mod:`ddpm_math.diffusion.options` or their strings. ``timestep_sampler`` draws the
    training timesteps (uniform by default; see :mod:`resample`). ``timestep_map`` (set by
    :meth:`respaced`) maps this schedule's indices to those the model was trained on.
    """

    def __init__(
        self,
        schedule: NoiseSchedule | Any,
        mean_type: MeanType | str = "eps",
        var_type: VarType | str = "fixed_small",
        loss_type: LossType | str = "simple",
        decoder: DecoderType | str = "discretized",
        *,
        timestep_sampler: UniformSampler | None = None,
        timestep_map: TimestepMap | None = None,
    ) -> None:
        self.schedule = schedule if isinstance(schedule, NoiseSchedule) else NoiseSchedule(schedule)
        self.mean_type = parse_option(MeanType, mean_type, "mean_type")
        self.var_type = parse_option(VarType, var_type, "var_type")
        self.loss_type = parse_option(LossType, loss_type, "loss_type")
        self.decoder = parse_option(DecoderType, decoder, "decoder")
        if self.loss_type is LossType.WEIGHTED and self.var_type.learned:
            raise ValueError("loss_type='weighted' needs a fixed variance (var_type "
                             "'fixed_small' or 'fixed_large'); use 'vlb' or 'hybrid' to learn it")
        num_steps = self.schedule.num_steps
        self.timestep_sampler = timestep_sampler or UniformSampler(num_steps)
        if getattr(self.timestep_sampler, "num_steps", None) != num_steps:
            raise ValueError(f"timestep_sampler must sample from T = {num_steps} steps, got "
                             f"{getattr(self.timestep_sampler, 'num_steps', None)!r}")
        if timestep_map is not None and len(timestep_map) != num_steps:
            raise ValueError(f"timestep_map must map T = {num_steps} steps, got "
                             f"{len(timestep_map)}")
        self.timestep_map = timestep_map

    # -- plumbing (no math) --------------------------------------------------------------------

    @property
    def num_steps(self) -> int:
        """T, the number of diffusion steps."""
        return self.schedule.num_steps

    def __repr__(self) -> str:
        return (f"GaussianDiffusion({self.schedule!r}, mean_type={self.mean_type.value!r}, "
                f"var_type={self.var_type.value!r}, loss_type={self.loss_type.value!r}, "
                f"decoder={self.decoder.value!r}, respaced={self.timestep_map is not None})")

    def coefficients(self, like: torch.Tensor) -> TorchSchedule:
        """The schedule on ``like``'s device in its dtype (converted once, then cached)."""
        return self.schedule.to_torch(like.device, like.dtype)

    def _data(self, x: Any, name: str, t: Any, *, model: bool = False):
        """Checked data tensor, its coefficients and its checked [B] timesteps."""
        x = check_data(x, name, min_ndim=2 if model else 1)
        return x, self.coefficients(x), check_timesteps(t, self.num_steps, x)

    def _wrap(self, model: Model) -> Model:
        if not callable(model):
            raise TypeError(f"model must be callable as model(x_t, t), got {model!r}")
        return model if self.timestep_map is None else self.timestep_map.wrap(model)

    def _denoiser(self, model: Model, clip_denoised: bool):
        """``(x_t, t) -> p_mean_variance`` around the model; values checked on the first call."""
        wrapped, first_call = self._wrap(model), [True]

        def denoise(x_t: torch.Tensor, t: torch.Tensor) -> dict[str, torch.Tensor]:
            output = check_model_output(wrapped(x_t, t), x_t, self.var_type.learned,
                                        check_finite=first_call[0])
            first_call[0] = False
            return p_mean_variance(self.coefficients(x_t), output, x_t, t, self.mean_type,
                                   self.var_type, clip_denoised)

        return denoise

    def _noise(self, noise: Any, like: torch.Tensor, generator, name: str = "noise"):
        if noise is None:
            return torch.randn(like.shape, generator=generator, dtype=like.dtype,
                               device=like.device)
        return check_like(noise, name, like, "x0")

    # -- the forward process and its posterior -------------------------------------------------

    def q_mean_variance(self, x0: torch.Tensor, t: torch.Tensor):
        """Mean, variance and log-variance of q(x_t | x_0), DDPM eq. (4)."""
        x0, coefs, t = self._data(x0, "x0", t)
        return forward.q_mean_variance(coefs, x0, t)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor | None = None,
                 *, generator: torch.Generator | None = None) -> torch.Tensor:
        """x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε, DDPM eq. (4); ε drawn when ``noise`` is None."""
        x0, coefs, t = self._data(x0, "x0", t)
        return forward.q_sample(coefs, x0, t, self._noise(noise, x0, generator))

    def q_posterior(self, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor):
        """Mean μ̃_t, variance β̃_t and clipped log β̃_t of q(x_{t-1} | x_t, x_0), eqs. (6)-(7)."""
        x_t, coefs, t = self._data(x_t, "x_t", t)
        return posterior.q_posterior(coefs, check_like(x0, "x0", x_t, "x_t"), x_t, t)

    # -- parameterisations ---------------------------------------------------------------------

    def _convert(self, kernel, x: Any, x_name: str, t: Any, other: Any, other_name: str):
        """``kernel(coefs, x, t, other)`` after checking x, t and that ``other`` matches x."""
        x, coefs, t = self._data(x, x_name, t)
        return kernel(coefs, x, t, check_like(other, other_name, x, x_name))

    def x0_from_eps(self, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor):
        """x̂_0 = (x_t - √(1-ᾱ_t) ε)/√ᾱ_t, DDPM eq. (4) solved for x_0."""
        return self._convert(parameterization.x0_from_eps, x_t, "x_t", t, eps, "eps")

    def eps_from_x0(self, x_t: torch.Tensor, t: torch.Tensor, x0: torch.Tensor):
        """ε = (x_t - √ᾱ_t x_0)/√(1-ᾱ_t), DDPM eq. (4) solved for ε."""
        return self._convert(parameterization.eps_from_x0, x_t, "x_t", t, x0, "x0")

    def v_from_x0_eps(self, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor):
        """v = √ᾱ_t ε - √(1-ᾱ_t) x_0 (Salimans & Ho 2022)."""
        return self._convert(parameterization.v_from_x0_eps, x0, "x0", t, eps, "eps")

    def x0_from_v(self, x_t: torch.Tensor, t: torch.Tensor, v: torch.Tensor):
        """x̂_0 = √ᾱ_t x_t - √(1-ᾱ_t) v."""
        return self._convert(parameterization.x0_from_v, x_t, "x_t", t, v, "v")

    def eps_from_v(self, x_t: torch.Tensor, t: torch.Tensor, v: torch.Tensor):
        """ε̂ = √(1-ᾱ_t) x_t + √ᾱ_t v."""
        return self._convert(parameterization.eps_from_v, x_t, "x_t", t, v, "v")

    # -- the reverse process -------------------------------------------------------------------

    def p_mean_variance(self, model: Model, x_t: torch.Tensor, t: torch.Tensor,
                        clip_denoised: bool = False) -> dict[str, torch.Tensor]:
        """Mean, variance, log-variance, x̂_0 and ε̂ of p_θ(x_{t-1} | x_t), DDPM eq. (1)."""
        x_t, _, t = self._data(x_t, "x_t", t, model=True)
        return self._denoiser(model, clip_denoised)(x_t, t)

    def p_sample(self, model: Model, x_t: torch.Tensor, t: torch.Tensor,
                 noise: torch.Tensor | None = None, generator: torch.Generator | None = None,
                 clip_denoised: bool = True) -> torch.Tensor:
        """One draw x_{t-1} ~ p_θ(x_{t-1} | x_t), DDPM Algorithm 2 line 4 (no noise at t = 0)."""
        out = self.p_mean_variance(model, x_t, t, clip_denoised)
        t = check_timesteps(t, self.num_steps, x_t)
        return sampling.p_sample(out, t, self._noise(noise, x_t, generator))

    def ddim_sample(self, model: Model, x_t: torch.Tensor, t: torch.Tensor,
                    noise: torch.Tensor | None = None, generator: torch.Generator | None = None,
                    clip_denoised: bool = True, eta: float = 0.0) -> torch.Tensor:
        """One DDIM step x_t → x_{t-1}, DDIM eq. (12) with σ_t(η) of eq. (16)."""
        eta = check_eta(eta)
        out = self.p_mean_variance(model, x_t, t, clip_denoised)
        t = check_timesteps(t, self.num_steps, x_t)
        return sampling.ddim_step(self.coefficients(x_t), out["x0_hat"], out["eps_hat"], t, eta,
                                  self._noise(noise, x_t, generator))

    def _x_T(self, shape, noise, generator, device, dtype) -> torch.Tensor:
        shape = check_shape(shape)
        if noise is None:
            dtype = torch.get_default_dtype() if dtype is None else dtype
            return torch.randn(shape, generator=generator, dtype=dtype, device=device)
        noise = check_data(noise, "noise", min_ndim=2)
        if tuple(noise.shape) != shape:
            raise ValueError(f"noise (x_T) must have shape {shape}, got {tuple(noise.shape)}")
        return noise

    def p_sample_loop(self, model: Model, shape, noise: torch.Tensor | None = None,
                      generator: torch.Generator | None = None, clip_denoised: bool = True,
                      progress: bool = False, return_trajectory: bool = False, *,
                      device=None, dtype: torch.dtype | None = None):
        """Samples x_0 by ancestral sampling from x_T = ``noise`` (or a draw), DDPM Algorithm 2.

        With ``return_trajectory`` returns ``(x_0, trajectory)``, trajectory [T+1, *shape]
        holding x_T, ..., x_0. ``device``/``dtype`` apply when ``noise`` is None.
        """
        x_T = self._x_T(shape, noise, generator, device, dtype)
        return sampling.ancestral_loop(self._denoiser(model, clip_denoised), x_T, self.num_steps,
                                       generator, progress, return_trajectory)

    def ddim_sample_loop(self, model: Model, shape, noise: torch.Tensor | None = None,
                         generator: torch.Generator | None = None, clip_denoised: bool = True,
                         progress: bool = False, return_trajectory: bool = False,
                         eta: float = 0.0, *, device=None, dtype: torch.dtype | None = None):
        """Samples x_0 by DDIM (Song et al. 2021, eq. 12); η = 0 deterministic, η = 1 ancestral."""
        eta = check_eta(eta)
        x_T = self._x_T(shape, noise, generator, device, dtype)
        return sampling.ddim_loop(self._denoiser(model, clip_denoised), self.coefficients(x_T),
                                  x_T, eta, generator, progress, return_trajectory)

    # -- the bound and the training losses -----------------------------------------------------

    def prior_bpd(self, x0: torch.Tensor) -> torch.Tensor:
        """L_T = KL(q(x_T | x_0) ‖ N(0, I)) in bits/dim, DDPM eq. (5); [B]."""
        x0 = check_data(x0, "x0")
        return vlb.prior_bpd(self.coefficients(x0), x0)

    def vb_terms_bpd(self, model: Model, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor,
                     clip_denoised: bool = False) -> torch.Tensor:
        """The bound's term at index t in bits/dim (KL for t > 0, decoder NLL at t = 0); [B]."""
        out = self.p_mean_variance(model, x_t, t, clip_denoised)
        x0 = check_like(x0, "x0", x_t, "x_t")
        t = check_timesteps(t, self.num_steps, x_t)
        return vlb.vb_terms_bpd(self.coefficients(x_t), x0, x_t, t, out["mean"],
                                out["log_variance"], self.decoder)

    def calc_bpd_loop(self, model: Model, x0: torch.Tensor, clip_denoised: bool = False,
                      generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """The whole bound per example, DDPM eq. (5): ``total_bpd``, ``prior_bpd`` [B] and the
        terms ``vb``, ``x0_mse``, ``mse`` [B, T] (column t is index t)."""
        x0 = check_data(x0, "x0", min_ndim=2)
        with torch.no_grad():
            return vlb.bpd_loop(self._denoiser(model, clip_denoised), self.coefficients(x0), x0,
                                self.decoder, generator)

    def training_losses(self, model: Model, x0: torch.Tensor, t: torch.Tensor | None = None,
                        noise: torch.Tensor | None = None,
                        generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Per-example losses [B] (``loss``, and ``mse``/``vb`` per loss_type) at t ~ the sampler.

        Without ``t`` the timesteps come from ``timestep_sampler``, ``loss`` is weighted by its
        1/(T p_t) and the sampler records the unweighted losses; the drawn ``t`` and
        ``weights`` are returned too. DDPM Algorithm 1 (and Improved DDPM §3.3).
        """
        x0 = check_data(x0, "x0", min_ndim=2)
        sampled = t is None
        if sampled:
            t, weights = self.timestep_sampler.sample(x0.shape[0], x0.device, generator)
        else:
            t = check_timesteps(t, self.num_steps, x0)
            weights = torch.ones(x0.shape[0], dtype=x0.dtype, device=x0.device)
        noise = self._noise(noise, x0, generator)
        coefs = self.coefficients(x0)
        x_t = forward.q_sample(coefs, x0, t, noise)
        output = check_model_output(self._wrap(model)(x_t, t), x_t, self.var_type.learned)
        terms = losses.training_losses(coefs, output, x0, x_t, t, noise, self.mean_type,
                                       self.var_type, self.loss_type, self.decoder)
        if sampled:
            self.timestep_sampler.update_with_losses(t, terms["loss"])
        terms["loss"] = terms["loss"] * weights.to(terms["loss"].dtype)
        terms["t"], terms["weights"] = t, weights
        return terms

    # -- respacing -----------------------------------------------------------------------------

    def respaced(self, section_counts: str | Iterable[int]) -> GaussianDiffusion:
        """This diffusion on a subset of its steps (``"ddim50"``, ``"10,15,20"``, [10, 15, 20]),
        β' from ᾱ of the kept steps; the model is called with the original indices."""
        kept = space_timesteps(self.num_steps, section_counts)
        if self.timestep_map is not None:  # compose: indices into the model's original steps
            kept_original = [self.timestep_map.timesteps[k] for k in kept]
        else:
            kept_original = kept
        return GaussianDiffusion(respaced_betas(self.schedule, kept), self.mean_type,
                                 self.var_type, self.loss_type, self.decoder,
                                 timestep_map=TimestepMap(kept_original))
