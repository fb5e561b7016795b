"""The sampling loop as one CUDA graph per step: model, update and noise, replayed T-1 times.

:class:`GraphSampler` captures one whole denoising step (the network call, the fused update of
:mod:`fast_sampling` and the noise draw) in a :class:`torch.cuda.CUDAGraph` over static buffers.
The step reads its coefficients from a device copy of :func:`fast_sampling.step_table`, indexed by
a device step counter that the graph itself decrements, so a loop is T-1 replays and nothing else:
no tensor is built, no value read and no host-device synchronisation made per step. The last
step (index 0, no noise) runs the kernels themselves, as in the fast loop, and so do the first
steps of a zero terminal SNR schedule (ᾱ_t = 0, :func:`fast_sampling.kernel_rows`), eagerly,
before the replays.

The arithmetic is the fast loop's with tensor coefficients in place of Python floats, and the
noise is drawn from the same generator in the same order (a CUDA graph advances a generator's
Philox offset on each replay as the eager draws would), so for the same x_T and seed the samples
are the fast loop's up to rounding (``tests/test_graph_sampling.py``). ``graph=False`` runs the
same step eagerly, on any device: that is how CI, without a GPU, ties the step to the fast loop.

Options: ``autocast_dtype=torch.bfloat16`` runs the model under autocast (the update stays in the
samples' dtype); ``compile=True`` passes the model through :func:`torch.compile` first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from ddpm_math.diffusion.fast_sampling import (
    kernel_noise,
    kernel_rows,
    kernel_step,
    step_table,
)
from ddpm_math.diffusion.options import MeanType, VarType
from ddpm_math.diffusion.sampling import finish
from ddpm_math.diffusion.validation import check_generator, check_model_output
from ddpm_math.schedules import NoiseSchedule

__all__ = ["GraphSampler"]

Model = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

#: Eager steps run on a side stream before capture (cuDNN and the allocator settle there).
WARMUP_STEPS = 3


class GraphSampler:
    """Ancestral (``eta`` None) or DDIM sampling of ``shape`` with one captured step.

    Build it once per model and shape (capture costs a few steps), then call :meth:`sample` as
    often as needed. Arguments as :func:`fast_sampling.fast_ancestral_loop`, plus:

    - ``shape``: [B, C, ...] of the samples; ``dtype``: their floating dtype; ``device``: a CUDA
      device when ``graph`` (the default), any device otherwise;
    - ``generator``: a :class:`torch.Generator` on ``device`` that every :meth:`sample` draws
      from (x_T, then the noise of each step), or None for the device's default generator;
    - ``autocast_dtype``: None, or a dtype the model runs in under :func:`torch.autocast`
      (torch.bfloat16 on a GPU); its output is cast back to ``dtype`` before the update;
    - ``compile``: pass the model through :func:`torch.compile` (default options) first.

    The model's output is checked once, at construction (shape, dtype, finite, on a standard
    normal input); :meth:`sample` checks x_0 for NaN/inf after the loop (one synchronisation).
    """

    def __init__(self, model: Model, schedule: NoiseSchedule, shape: Sequence[int], *,
                 mean_type: MeanType, var_type: VarType, eta: float | None = None,
                 clip_denoised: bool = True, model_steps: Sequence[int] | None = None,
                 dtype: torch.dtype = torch.float32, device: Any = "cuda",
                 generator: torch.Generator | None = None,
                 autocast_dtype: torch.dtype | None = None, compile: bool = False,
                 graph: bool = True):
        device = torch.device(device)
        if graph and device.type != "cuda":
            raise ValueError(f"device must be a CUDA device for a CUDA graph (graph=True), got "
                             f"{device}; use graph=False, or p_sample_loop, on the CPU")
        if graph and not torch.cuda.is_available():
            raise ValueError("GraphSampler(graph=True) needs CUDA, which this torch does not "
                             "see; use graph=False or p_sample_loop")
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        self.shape, self.dtype, self.device = tuple(shape), dtype, device
        self.generator = check_generator(generator, device)
        self.num_steps = schedule.num_steps
        self._model = torch.compile(model) if compile else model
        self._learned = var_type.learned
        self._noisy = eta is None or eta > 0
        self._learned_noise = eta is None and var_type.learned
        self._clip = clip_denoised
        self._autocast_dtype = autocast_dtype

        table = step_table(schedule, mean_type, var_type, eta)
        self._kernel_steps = _kernel_steps(table)
        table = table[:len(table) - len(self._kernel_steps)]
        self._p_zero = bool(table[1][6]) if len(table) > 1 else False
        steps = [int(step) for step in (range(self.num_steps) if model_steps is None
                                        else model_steps)]
        self._table = torch.tensor(table, dtype=dtype, device=device)
        self._first_graph_index = len(table) - 1  # the counter's start: T-1 less the kernel rows
        self._steps = torch.tensor(steps, dtype=torch.int64, device=device)
        self._kernel = kernel_step(schedule, mean_type, var_type, clip_denoised, eta)
        self._step_t = {index: torch.full((self.shape[0],), steps[index], dtype=torch.int64,
                                          device=device) for index in [0, *self._kernel_steps]}

        # static buffers: x_t, the step counter, t, the noise
        self._x = torch.empty(self.shape, dtype=dtype, device=device)
        self._index = torch.zeros(1, dtype=torch.int64, device=device)
        self._t = torch.empty(self.shape[0], dtype=torch.int64, device=device)
        self._noise = torch.empty(self.shape, dtype=dtype, device=device)
        self._check_model(steps[-1])
        self._graph = self._capture() if graph else None

    # -- one step ----------------------------------------------------------------------------

    def _call_model(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        with torch.autocast(self.device.type, dtype=self._autocast_dtype or torch.bfloat16,
                            enabled=self._autocast_dtype is not None):
            output = self._model(x, t)
        return output.to(self.dtype)

    def _step(self, generator: torch.Generator | None) -> None:
        """x ← x_{t-1} for the index in the counter, then counter ← counter - 1 (in place)."""
        x = self._x
        row = self._table.index_select(0, self._index)  # [1, 9]: A B out_alpha bound scale L
        a, b, out_alpha, bound, scale, l, _, sigma, slope = (
            c.reshape((1,) * x.ndim) for c in row.unbind(1))
        self._t.copy_(self._steps.index_select(0, self._index).expand_as(self._t))
        output = self._call_model(x, self._t)
        out, var_out = torch.chunk(output, 2, dim=1) if self._learned else (output, None)
        if self._clip:  # as fast_sampling._mean_into, tensor coefficients
            if self._p_zero:
                first = torch.mul(out, out_alpha).clamp_(-1.0, 1.0)
            else:
                first = torch.addcmul(x, out, out_alpha)
                first = torch.clamp(first, min=-bound, max=bound)
            first_coef, second_coef = scale, l
        else:
            first, first_coef, second_coef = out, b, a
        if self._noisy:
            buf = self._noise.normal_(generator=generator).mul_(sigma)
            if self._learned_noise:
                buf.mul_(torch.mul(var_out, slope).exp_())
            buf.addcmul_(first, first_coef)
        else:
            buf = torch.mul(first, first_coef)
        buf.addcmul_(x, second_coef)
        x.copy_(buf)
        self._index.sub_(1)

    def _check_model(self, first_step: int) -> None:
        """The model's output on a standard normal x_T at the first step: shape, dtype, finite
        (one synchronisation); then the kernels' steps once, so that their tensors exist."""
        generator = torch.Generator(self.device).manual_seed(0)
        torch.randn(self.shape, generator=generator, dtype=self.dtype, device=self.device,
                    out=self._x)
        with torch.no_grad():
            output = self._call_model(self._x, self._t.fill_(first_step))
            check_model_output(output, self._x, self._learned, x_t_name="the warm-up x_T")
            for index in [*self._kernel_steps, 0]:
                self._kernel(self._x, output, index, torch.zeros_like(self._x))

    def _capture(self) -> torch.cuda.CUDAGraph:
        """Warm up on a side stream (with a throw-away generator, so the user's is untouched),
        then capture one step."""
        warmup_generator = torch.Generator(self.device).manual_seed(0)
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream), torch.no_grad():
            for _ in range(WARMUP_STEPS):
                self._index.fill_(self._first_graph_index)
                self._step(warmup_generator)
        torch.cuda.current_stream(self.device).wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        generator = self._capture_generator()
        if generator is not torch.cuda.default_generators[self.device.index]:
            graph.register_generator_state(generator)
        with torch.cuda.graph(graph), torch.no_grad():
            self._step(generator)
        return graph

    def _capture_generator(self) -> torch.Generator:
        if self.generator is not None:
            return self.generator
        if self.device.type == "cuda":
            return torch.cuda.default_generators[self.device.index]
        return torch.default_generator

    # -- the loop ------------------------------------------------------------------------------

    def sample(self, noise: torch.Tensor | None = None, *, check_finite: bool = True
               ) -> torch.Tensor:
        """x_0 (a new tensor) from x_T = ``noise`` (shape, dtype and device of the sampler) or a
        draw from the sampler's generator. ``check_finite=False`` skips the one read of x_0 (a
        loop with no synchronisation at all, for profiling or chaining)."""
        if noise is None:
            torch.randn(self.shape, generator=self._capture_generator(), dtype=self.dtype,
                        device=self.device, out=self._x)
        else:
            if not isinstance(noise, torch.Tensor) or tuple(noise.shape) != self.shape or \
                    noise.dtype != self.dtype or noise.device != self.device:
                raise ValueError(
                    f"noise (x_T) must be a tensor of shape {self.shape}, dtype {self.dtype} on "
                    f"{self.device}; got {_describe(noise)}")
            self._x.copy_(noise)
        generator = self._capture_generator()
        with torch.no_grad():
            for index in self._kernel_steps:  # ᾱ_t = 0: the kernels' step
                z = kernel_noise(self._x, self._noisy, generator)
                output = self._call_model(self._x, self._step_t[index])
                self._x.copy_(self._kernel(self._x, output, index, z))
            self._index.fill_(self._first_graph_index)
            for _ in range(self._first_graph_index):
                if self._graph is not None:
                    self._graph.replay()
                else:
                    self._step(generator)
            output = self._call_model(self._x, self._step_t[0])
            x = self._kernel(self._x, output, 0, torch.zeros_like(self._x))
        return finish(x, None) if check_finite else x


def _kernel_steps(table: Sequence[Sequence[float]]) -> list[int]:
    """The first steps (t = T-1, T-2, ...) run by the kernels, eagerly, before the replays:
    those with ᾱ_t = 0, where the fused update's coefficients are infinite
    (:func:`fast_sampling.kernel_rows`) or, for a v output, x̂_0 = Q·out where the later rows
    have x̂_0 = P x_t + Q·out (the one captured step has one of the two forms)."""
    steady = table[1][6] if len(table) > 1 else 0.0
    odd = {index for index in range(1, len(table)) if table[index][6] != steady}
    steps = sorted(kernel_rows(table) | odd, reverse=True)
    if steps != list(range(len(table) - 1, len(table) - 1 - len(steps), -1)):
        raise ValueError(f"the step table has non-finite or odd coefficients at indices {steps}, "
                         f"not only at the first steps (ᾱ_t = 0)")
    return steps


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"shape {tuple(value.shape)}, dtype {value.dtype} on {value.device}"
    return type(value).__name__
