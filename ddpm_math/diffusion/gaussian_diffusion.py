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

from ddpm_math.diffusion import (
    fast_sampling,
    forward,
    losses,
    parameterization,
    posterior,
    sampling,
    vlb,
)
from ddpm_math.diffusion.graph_sampling import GraphSampler
from ddpm_math.diffusion.options import DecoderType, LossType, MeanType, VarType, parse_option
from ddpm_math.diffusion.resample import UniformSampler
from ddpm_math.diffusion.respace import TimestepMap, respaced_betas, space_timesteps
from ddpm_math.diffusion.reverse import p_mean_variance
from ddpm_math.diffusion.validation import (
    check_data,
    check_data_values,
    check_device,
    check_dtype,
    check_eta,
    check_finite,
    check_flag,
    check_generator,
    check_like,
    check_model_output,
    check_schedule,
    check_shape,
    check_timesteps,
)
from ddpm_math.schedules import NoiseSchedule, TorchSchedule

__all__ = ["GaussianDiffusion"]

Model = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class GaussianDiffusion:
    """The forward process, the reverse model p_θ, its bound and its samplers (DDPM §2-3).

    ``schedule`` is a :class:`NoiseSchedule` or a 1-D array of betas in (0, 1] (a list, numpy
    array or torch tensor); ``mean_type``, ``var_type``, ``loss_type`` and ``decoder`` take the
    enum members of :mod:`ddpm_math.diffusion.options` or their strings (``loss_type='weighted'``
    needs a fixed variance; a learned variance is trained by 'vlb' or 'hybrid', and
    :meth:`training_losses` rejects 'simple' with it). ``timestep_sampler`` draws the training
    timesteps (uniform by default; see :mod:`resample`). ``timestep_map`` (set by
    :meth:`respaced`) maps this schedule's indices to those the model was trained on.

    Input contract of the methods, checked on entry (``ValueError``/``TypeError`` naming the
    parameter and the allowed range):

    - data (``x0``, ``x_t``, ``noise``, ``eps``, ``v``): a torch.Tensor of a floating dtype
      (float16, bfloat16, float32, float64), shape [B, ...] with B ≥ 1 ([B, C, ...] where a
      model is called); a second data argument has the shape of the first; finite values.
    - ``x0`` where the bound or the loss is computed (:meth:`prior_bpd`, :meth:`vb_terms_bpd`,
      :meth:`calc_bpd_loop`, :meth:`training_losses`): with the discretised decoders
      ('discretized', 'discretized_approx') 8-bit images scaled to [-1, 1], every value within
      2.45e-4 (1/16 of a bin half-width; float16 4.9e-4, bfloat16 3.9e-3) of k/127.5 - 1,
      k = 0..255; with ``decoder='gaussian'`` any finite values (continuous data).
    - ``t``: an integer [B] tensor (or a Python int for the whole batch) of 0-based indices,
      0 ≤ t ≤ T-1; index t is the paper's step t+1.
    - ``model``: a callable ``model(x_t, t)`` returning a floating [B, C, ...] tensor (2C with a
      learned variance), finite (checked on its first call: in a sampling loop, the first step).
    - ``generator``: a torch.Generator (on the data's device where the method draws) or None.
    - ``clip_denoised`` (clip x̂_0 to [-1, 1] before forming the mean), ``progress`` (a tqdm bar
      on stderr), ``return_trajectory``: bools.
    - ``check_values`` (keyword-only, default True): False skips the checks that read the
      data's values (finiteness, the [-1, 1] range, the 8-bit grid), each a device
      synchronisation, for callers that checked the data once already (a training loop after
      its first step). Types, shapes, the range of ``t`` and the model output's finiteness are
      checked all the same.
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
        self.schedule = check_schedule(schedule)
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
        if timestep_map is not None and not isinstance(timestep_map, TimestepMap):
            raise TypeError(f"timestep_map must be a TimestepMap (GaussianDiffusion.respaced "
                            f"builds one) or None, got {type(timestep_map).__name__}")
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
        if not isinstance(like, torch.Tensor) or not like.is_floating_point():
            raise TypeError(f"like must be a floating torch.Tensor, got "
                            f"{getattr(like, 'dtype', type(like).__name__)}")
        return self.schedule.to_torch(like.device, like.dtype)

    def _data(self, x: Any, name: str, t: Any, *, model: bool = False):
        """Checked data tensor, its coefficients and its checked [B] timesteps."""
        x = check_data(x, name, min_ndim=2 if model else 1)
        return x, self.coefficients(x), check_timesteps(t, self.num_steps, x)

    def _check_x0(self, x0: torch.Tensor, check_values: bool) -> torch.Tensor:
        """``x0`` after the value checks of this decoder's data (finite; 8-bit in [-1, 1])."""
        if check_values:
            check_data_values(x0, "x0", on_grid=self.decoder is not DecoderType.GAUSSIAN)
        return x0

    @staticmethod
    def _check_model(model: Model) -> Model:
        if not callable(model):
            raise TypeError(f"model must be callable as model(x_t, t), got {model!r}")
        return model

    def _wrap(self, model: Model) -> Model:
        model = self._check_model(model)
        return model if self.timestep_map is None else self.timestep_map.wrap(model)

    def _model_steps(self) -> tuple[int, ...] | None:
        """The original step the model sees at each index (respaced), or None (the index)."""
        return None if self.timestep_map is None else self.timestep_map.timesteps

    def _denoiser(self, model: Model, clip_denoised: bool, x_t_name: str | None = "x_t"):
        """``(x_t, t) -> p_mean_variance`` around the model; on the first call only, the model
        output and (unless ``x_t_name`` is None) the input x_t are checked for NaN/inf."""
        clip_denoised = check_flag(clip_denoised, "clip_denoised")
        wrapped, first_call = self._wrap(model), [True]

        def denoise(x_t: torch.Tensor, t: torch.Tensor) -> dict[str, torch.Tensor]:
            output = check_model_output(wrapped(x_t, t), x_t, self.var_type.learned,
                                        check_finite=first_call[0], x_t_name=x_t_name)
            first_call[0] = False
            return p_mean_variance(self.coefficients(x_t), output, x_t, t, self.mean_type,
                                   self.var_type, clip_denoised)

        return denoise

    def _noise(self, noise: Any, like: torch.Tensor, generator, check_values: bool,
               like_name: str = "x0") -> torch.Tensor:
        """The caller's ``noise`` (checked against ``like``) or a standard normal draw."""
        if noise is None:
            check_generator(generator, like.device)
            return torch.randn(like.shape, generator=generator, dtype=like.dtype,
                               device=like.device)
        noise = check_like(noise, "noise", like, like_name)
        return check_finite(noise, "noise") if check_values else noise

    # -- the forward process and its posterior -------------------------------------------------

    def q_mean_variance(self, x0: torch.Tensor, t: torch.Tensor, *, check_values: bool = True):
        """Mean, variance and log-variance of q(x_t | x_0), DDPM eq. (4).

        ``x0``: data [B, ...], finite (any range); ``t``: [B] indices in [0, T-1].
        """
        x0, coefs, t = self._data(x0, "x0", t)
        if check_values:
            check_finite(x0, "x0")
        return forward.q_mean_variance(coefs, x0, t)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor | None = None,
                 *, generator: torch.Generator | None = None,
                 check_values: bool = True) -> torch.Tensor:
        """x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε, DDPM eq. (4); ε drawn when ``noise`` is None.

        ``x0``: data [B, ...], finite (any range); ``t``: [B] indices in [0, T-1]; ``noise``:
        the shape and a floating dtype like x0, finite, or None (drawn from ``generator``).
        """
        x0, coefs, t = self._data(x0, "x0", t)
        check_generator(generator)
        if check_values:
            check_finite(x0, "x0")
        return forward.q_sample(coefs, x0, t, self._noise(noise, x0, generator, check_values))

    def q_posterior(self, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, *,
                    check_values: bool = True):
        """Mean μ̃_t, variance β̃_t and clipped log β̃_t of q(x_{t-1} | x_t, x_0), eqs. (6)-(7).

        ``x_t``: data [B, ...], finite; ``x0``: the shape of x_t, finite (any range); ``t``: [B]
        indices in [0, T-1].
        """
        x_t, coefs, t = self._data(x_t, "x_t", t)
        x0 = check_like(x0, "x0", x_t, "x_t")
        if check_values:
            check_finite(x_t, "x_t")
            check_finite(x0, "x0")
        return posterior.q_posterior(coefs, x0, x_t, t)

    # -- parameterisations ---------------------------------------------------------------------

    def _convert(self, kernel, x: Any, x_name: str, t: Any, other: Any, other_name: str,
                 check_values: bool):
        """``kernel(coefs, x, t, other)`` after checking x, t and that ``other`` matches x."""
        x, coefs, t = self._data(x, x_name, t)
        other = check_like(other, other_name, x, x_name)
        if check_values:
            check_finite(x, x_name)
            check_finite(other, other_name)
        result = kernel(coefs, x, t, other)
        if check_values and not bool(torch.isfinite(result).all()):
            raise ValueError(
                f"{x_name} and {other_name} are too large for this conversion at these t: the "
                f"result exceeds {x.dtype}'s largest value {torch.finfo(x.dtype).max:g} (x̂_0 "
                f"divides by √ᾱ_t, up to 1/√ᾱ_T = {1 / self.schedule.sqrt_alpha_bar[-1]:.4g})")
        return result

    # The five conversions take two data tensors [B, ...] of one shape, finite, and t: [B]
    # indices in [0, T-1]; with check_values, a result that overflows the dtype (finite inputs
    # too large for it) raises rather than returning inf.

    def x0_from_eps(self, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, *,
                    check_values: bool = True):
        """x̂_0 = (x_t - √(1-ᾱ_t) ε)/√ᾱ_t, DDPM eq. (4) solved for x_0 (x_t, eps: finite)."""
        return self._convert(parameterization.x0_from_eps, x_t, "x_t", t, eps, "eps",
                             check_values)

    def eps_from_x0(self, x_t: torch.Tensor, t: torch.Tensor, x0: torch.Tensor, *,
                    check_values: bool = True):
        """ε = (x_t - √ᾱ_t x_0)/√(1-ᾱ_t), DDPM eq. (4) solved for ε (x_t, x0: finite)."""
        return self._convert(parameterization.eps_from_x0, x_t, "x_t", t, x0, "x0",
                             check_values)

    def v_from_x0_eps(self, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, *,
                      check_values: bool = True):
        """v = √ᾱ_t ε - √(1-ᾱ_t) x_0 (Salimans & Ho 2022) (x0, eps: finite)."""
        return self._convert(parameterization.v_from_x0_eps, x0, "x0", t, eps, "eps",
                             check_values)

    def x0_from_v(self, x_t: torch.Tensor, t: torch.Tensor, v: torch.Tensor, *,
                  check_values: bool = True):
        """x̂_0 = √ᾱ_t x_t - √(1-ᾱ_t) v (x_t, v: finite)."""
        return self._convert(parameterization.x0_from_v, x_t, "x_t", t, v, "v", check_values)

    def eps_from_v(self, x_t: torch.Tensor, t: torch.Tensor, v: torch.Tensor, *,
                   check_values: bool = True):
        """ε̂ = √(1-ᾱ_t) x_t + √ᾱ_t v (x_t, v: finite)."""
        return self._convert(parameterization.eps_from_v, x_t, "x_t", t, v, "v", check_values)

    # -- the reverse process -------------------------------------------------------------------

    def p_mean_variance(self, model: Model, x_t: torch.Tensor, t: torch.Tensor,
                        clip_denoised: bool = False, *,
                        check_values: bool = True) -> dict[str, torch.Tensor]:
        """Mean, variance, log-variance, x̂_0 and ε̂ of p_θ(x_{t-1} | x_t), DDPM eq. (1).

        ``x_t``: data [B, C, ...], finite (checked with the model output, in one read);
        ``t``: [B] indices in [0, T-1]; ``clip_denoised``: clip x̂_0 to [-1, 1].
        """
        x_t, _, t = self._data(x_t, "x_t", t, model=True)
        return self._denoiser(model, clip_denoised, "x_t" if check_values else None)(x_t, t)

    def _step_inputs(self, model, x_t, t, noise, generator, clip_denoised, check_values):
        """Checked (t, noise, p_mean_variance output) of one reverse step from ``x_t``."""
        x_t, _, t = self._data(x_t, "x_t", t, model=True)
        check_generator(generator)
        noise = self._noise(noise, x_t, generator, check_values, "x_t")
        out = self._denoiser(model, clip_denoised, "x_t" if check_values else None)(x_t, t)
        return t, noise, out

    def p_sample(self, model: Model, x_t: torch.Tensor, t: torch.Tensor,
                 noise: torch.Tensor | None = None, generator: torch.Generator | None = None,
                 clip_denoised: bool = True, *, check_values: bool = True) -> torch.Tensor:
        """One draw x_{t-1} ~ p_θ(x_{t-1} | x_t), DDPM Algorithm 2 line 4 (no noise at t = 0).

        ``x_t``: data [B, C, ...], finite; ``t``: [B] indices in [0, T-1]; ``noise``: the
        shape of x_t, finite, or None (drawn from ``generator``).
        """
        t, noise, out = self._step_inputs(model, x_t, t, noise, generator, clip_denoised,
                                          check_values)
        return sampling.p_sample(out, t, noise)

    def ddim_sample(self, model: Model, x_t: torch.Tensor, t: torch.Tensor,
                    noise: torch.Tensor | None = None, generator: torch.Generator | None = None,
                    clip_denoised: bool = True, eta: float = 0.0, *,
                    check_values: bool = True) -> torch.Tensor:
        """One DDIM step x_t → x_{t-1}, DDIM eq. (12) with σ_t(η) of eq. (16).

        ``x_t``, ``t``, ``noise`` as in :meth:`p_sample`; ``eta``: a real number in [0, 1].
        """
        eta = check_eta(eta)
        t, noise, out = self._step_inputs(model, x_t, t, noise, generator, clip_denoised,
                                          check_values)
        return sampling.ddim_step(self.coefficients(x_t), out["x0_hat"], out["eps_hat"], t, eta,
                                  noise)

    def _x_T(self, shape, noise, generator, device, dtype) -> torch.Tensor:
        shape = check_shape(shape)
        check_generator(generator)
        dtype, device = check_dtype(dtype), check_device(device)
        if noise is None:
            if device is None:  # torch.randn's default (torch.get_default_device, torch ≥ 2.3)
                device = getattr(torch, "get_default_device", lambda: torch.device("cpu"))()
            check_generator(generator, device)
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

        ``shape``: a sequence of positive ints [B, C, ...]; ``noise``: x_T of that shape, a
        floating dtype, finite (checked with the first model output, in one read), or None;
        ``device``/``dtype`` (a floating torch.dtype) apply when ``noise`` is None. With
        ``return_trajectory`` returns ``(x_0, trajectory)``, trajectory [T+1, *shape] holding
        x_T, ..., x_0. Values are read on the first step and after the last only. Runs the
        fused loop of :mod:`fast_sampling` (the samples of the kernel loop
        ``sampling.ancestral_loop`` for the same generator; see test_fast_loop.py).
        """
        clip_denoised = check_flag(clip_denoised, "clip_denoised")
        x_T = self._x_T(shape, noise, generator, device, dtype)
        return fast_sampling.fast_ancestral_loop(
            self._check_model(model), self.schedule, x_T, self.mean_type, self.var_type,
            clip_denoised, self._model_steps(), generator, progress, return_trajectory)

    def ddim_sample_loop(self, model: Model, shape, noise: torch.Tensor | None = None,
                         generator: torch.Generator | None = None, clip_denoised: bool = True,
                         progress: bool = False, return_trajectory: bool = False,
                         eta: float = 0.0, *, device=None, dtype: torch.dtype | None = None):
        """Samples x_0 by DDIM (Song et al. 2021, eq. 12); η = 0 deterministic, η = 1 ancestral.

        ``shape``, ``noise``, ``device``, ``dtype`` as in :meth:`p_sample_loop`; ``eta``: a real
        number in [0, 1]. Fused as in :meth:`p_sample_loop` (reference: ``sampling.ddim_loop``).
        """
        eta = check_eta(eta)
        clip_denoised = check_flag(clip_denoised, "clip_denoised")
        x_T = self._x_T(shape, noise, generator, device, dtype)
        return fast_sampling.fast_ddim_loop(
            self._check_model(model), self.schedule, x_T, self.mean_type, self.var_type, eta,
            clip_denoised, self._model_steps(), generator, progress, return_trajectory)

    def graph_sampler(self, model: Model, shape, *, sampler: str = "ancestral",
                      eta: float = 0.0, clip_denoised: bool = True,
                      dtype: torch.dtype | None = None, device="cuda",
                      generator: torch.Generator | None = None,
                      autocast_dtype: torch.dtype | None = None, compile: bool = False,
                      graph: bool = True) -> GraphSampler:
        """A :class:`~ddpm_math.diffusion.graph_sampling.GraphSampler`: the whole denoising
        step (model, update, noise) captured in a CUDA graph, replayed with no per-step host
        work; ``.sample(noise=None)`` returns x_0, the samples of :meth:`p_sample_loop`
        (``sampler="ancestral"``) or :meth:`ddim_sample_loop` (``"ddim"``, with ``eta``) for the
        same x_T and generator, up to rounding.

        ``model``, ``shape``, ``clip_denoised`` as there; ``sampler``: "ancestral" or "ddim";
        ``eta``: DDIM's η in [0, 1] (ignored by "ancestral"); ``dtype``: the samples' floating
        dtype (default
        torch's); ``device``: a CUDA device (any device with ``graph=False``, which runs the
        same step eagerly); ``graph``: capture the step in a CUDA graph (True) or run it
        eagerly on any device (False); ``generator``: on ``device``, drawn from by every
        ``.sample``;
        ``autocast_dtype``: e.g. torch.bfloat16 to run the model under autocast;
        ``compile``: :func:`torch.compile` the model first.
        """
        if sampler not in ("ancestral", "ddim"):
            raise ValueError(f"sampler must be 'ancestral' or 'ddim', got {sampler!r}")
        eta = check_eta(eta)
        dtype = check_dtype(dtype) or torch.get_default_dtype()
        device = check_device(device)
        if device is None:
            raise TypeError("device must be a torch.device or a device string, got None")
        autocast_dtype = check_dtype(autocast_dtype, "autocast_dtype")
        return GraphSampler(
            self._check_model(model), self.schedule, check_shape(shape),
            mean_type=self.mean_type, var_type=self.var_type,
            eta=None if sampler == "ancestral" else eta,
            clip_denoised=check_flag(clip_denoised, "clip_denoised"),
            model_steps=self._model_steps(), dtype=dtype, device=device,
            generator=check_generator(generator, device),
            autocast_dtype=autocast_dtype, compile=check_flag(compile, "compile"),
            graph=check_flag(graph, "graph"))

    # -- the bound and the training losses -----------------------------------------------------

    def prior_bpd(self, x0: torch.Tensor, *, check_values: bool = True) -> torch.Tensor:
        """L_T = KL(q(x_T | x_0) ‖ N(0, I)) in bits/dim, DDPM eq. (5); [B].

        ``x0``: data [B, ...] of this decoder (class docstring: 8-bit in [-1, 1], or finite).
        """
        x0 = check_data(x0, "x0")
        return vlb.prior_bpd(self.coefficients(x0), self._check_x0(x0, check_values))

    def vb_terms_bpd(self, model: Model, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor,
                     clip_denoised: bool = False, *, check_values: bool = True) -> torch.Tensor:
        """The bound's term at index t in bits/dim (KL for t > 0, decoder NLL at t = 0); [B].

        ``x_t``: data [B, C, ...], finite; ``x0``: the shape of x_t, data of this decoder
        (class docstring: 8-bit in [-1, 1], or finite); ``t``: [B] indices in [0, T-1].
        """
        x_t, coefs, t = self._data(x_t, "x_t", t, model=True)
        x0 = self._check_x0(check_like(x0, "x0", x_t, "x_t"), check_values)
        out = self._denoiser(model, clip_denoised, "x_t" if check_values else None)(x_t, t)
        return vlb.vb_terms_bpd(coefs, x0, x_t, t, out["mean"], out["log_variance"],
                                self.decoder)

    def calc_bpd_loop(self, model: Model, x0: torch.Tensor, clip_denoised: bool = False,
                      generator: torch.Generator | None = None, *, progress: bool = False,
                      check_values: bool = True) -> dict[str, torch.Tensor]:
        """The whole bound per example, DDPM eq. (5): ``total_bpd``, ``prior_bpd`` [B] and the
        terms ``vb``, ``x0_mse``, ``mse`` [B, T] (column t is index t).

        ``x0``: data [B, C, ...] of this decoder (class docstring: 8-bit in [-1, 1], or
        finite); ``generator`` on x0's device or None; ``progress`` shows a bar over the T
        model calls.
        """
        x0 = check_data(x0, "x0", min_ndim=2)
        check_generator(generator, x0.device)
        self._check_x0(x0, check_values)
        with torch.no_grad():
            denoise = self._denoiser(model, clip_denoised, None)  # x_t ~ q(x_t | checked x0)
            return vlb.bpd_loop(denoise, self.coefficients(x0), x0, self.decoder, generator,
                                progress)

    def training_losses(self, model: Model, x0: torch.Tensor, t: torch.Tensor | None = None,
                        noise: torch.Tensor | None = None,
                        generator: torch.Generator | None = None, *,
                        check_values: bool = True) -> dict[str, torch.Tensor]:
        """Per-example losses [B] (``loss``, and ``mse``/``vb`` per loss_type) at t ~ the sampler.

        Without ``t`` the timesteps come from ``timestep_sampler``, ``loss`` is weighted by its
        1/(T p_t) and the sampler records the unweighted losses; the drawn ``t`` and
        ``weights`` are returned too. DDPM Algorithm 1 (and Improved DDPM §3.3).

        ``x0``: data [B, C, ...] of this decoder (class docstring: 8-bit in [-1, 1], or
        finite); ``t``: [B] indices in [0, T-1] or None; ``noise``: ε, the shape of x0, finite,
        or None (drawn from ``generator``). A training loop may pass ``check_values=False``
        after its first step: the data checks read every value (a synchronisation on a GPU).
        A learned variance needs loss_type 'vlb' or 'hybrid' (ValueError with 'simple').
        """
        if self.var_type.learned and self.loss_type is LossType.SIMPLE:
            raise ValueError(f"loss_type='simple' cannot train a learned variance (var_type="
                             f"{self.var_type.value!r}): its channels get no gradient from the "
                             f"MSE; use loss_type 'hybrid' or 'vlb' to learn the variance, or a "
                             f"fixed var_type ('fixed_small', 'fixed_large')")
        x0 = check_data(x0, "x0", min_ndim=2)
        check_generator(generator)
        sampled = t is None
        if not sampled:
            t = check_timesteps(t, self.num_steps, x0)
        if noise is not None:
            noise = check_like(noise, "noise", x0, "x0")
        self._check_x0(x0, check_values)
        if noise is not None and check_values:
            check_finite(noise, "noise")
        if sampled:
            t, weights = self.timestep_sampler.sample(x0.shape[0], x0.device, generator)
        else:
            weights = torch.ones(x0.shape[0], dtype=x0.dtype, device=x0.device)
        noise = self._noise(noise, x0, generator, check_values=False)  # a draw, or as checked
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
        """This diffusion on a subset of its steps, β' from ᾱ of the kept steps; the model is
        called with the original indices. ``section_counts``: "ddimN" (N steps, a fixed
        stride), "10,15,20" or [10, 15, 20] (per equal section, each ≤ its section's size)."""
        kept = space_timesteps(self.num_steps, section_counts)
        if self.timestep_map is not None:  # compose: indices into the model's original steps
            kept_original = [self.timestep_map.timesteps[k] for k in kept]
        else:
            kept_original = kept
        return GaussianDiffusion(respaced_betas(self.schedule, kept), self.mean_type,
                                 self.var_type, self.loss_type, self.decoder,
                                 timestep_map=TimestepMap(kept_original))
