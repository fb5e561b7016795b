"""The loss-aware sampler's p_t against a hand-kept history of the last K losses per step.

Improved DDPM §3.3, eq. (18): p_t ∝ √E[L_t²], the expectation over the K most recent losses at
step t (K = 10 in the paper), used once every step holds K of them and mixed with the uniform
distribution by ``uniform_prob``. The oracle below keeps one ``collections.deque(maxlen=K)`` per
step and evaluates eq. (18) with ``math.fsum``: it shares no code (and no slot arithmetic) with
the ring buffer of ``LossSecondMomentResampler``. Each stream feeds more than 2K losses per step,
so a buffer that drops the wrong slot, or keeps one slot forever, holds a different multiset of
losses than the last K and gives a different p.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from ddpm_math.diffusion.resample import LossSecondMomentResampler
from ddpm_math.testing.tolerances import TOLERANCES, assert_close

TOL = TOLERANCES["float64"]


class LastKHistory:
    """Eq. (18) from first principles: a deque of the last K losses per step."""

    def __init__(self, num_steps: int, k: int, uniform_prob: float) -> None:
        self.num_steps, self.k, self.uniform_prob = num_steps, k, uniform_prob
        self.losses = [deque(maxlen=k) for _ in range(num_steps)]

    def update(self, steps, values) -> None:
        for step, value in zip(steps, values, strict=True):  # in batch order
            self.losses[step].append(float(value))

    def probabilities(self) -> list[float]:
        uniform = [1.0 / self.num_steps] * self.num_steps
        if any(len(h) < self.k for h in self.losses):
            return uniform  # not warmed up
        rms = [math.sqrt(math.fsum(v * v for v in h) / self.k) for h in self.losses]
        total = math.fsum(rms)
        if total == 0.0:
            return uniform  # every loss 0: eq. (18) is 0/0, nothing to prefer
        u = self.uniform_prob
        return [(1.0 - u) * r / total + u / self.num_steps for r in rms]


def _feed(sampler, oracle, steps, values):
    sampler.update_with_losses(torch.tensor(steps, dtype=torch.int64),
                               torch.tensor(values, dtype=torch.float64))
    oracle.update(steps, values)


def _check(sampler, oracle):
    expected = oracle.probabilities()
    assert sampler.warmed_up == all(len(h) == oracle.k for h in oracle.losses)
    assert_close(sampler.probabilities(), np.array(expected), TOL)


@st.composite
def loss_streams(draw):
    """(T, K, u, batches): each batch a list of (step, loss) pairs, steps possibly repeated."""
    num_steps = draw(st.integers(1, 5))
    k = draw(st.integers(1, 5))
    uniform_prob = draw(st.sampled_from([0.001, 0.3, 1.0]))
    loss = st.floats(1e-3, 1e3, allow_nan=False, allow_infinity=False)
    batch = st.lists(st.tuples(st.integers(0, num_steps - 1), loss), min_size=1, max_size=8)
    batches = draw(st.lists(batch, min_size=1, max_size=12))
    # then more than 2K losses at every step, in a shuffled order
    tail = [(step, draw(loss)) for step in range(num_steps) for _ in range(2 * k + 1)]
    order = draw(st.permutations(range(len(tail))))
    tail = [tail[i] for i in order]
    batches += [tail[i:i + 7] for i in range(0, len(tail), 7)]
    return num_steps, k, uniform_prob, batches


@given(case=loss_streams())
def test_probabilities_follow_the_last_k_losses_at_each_step(case):
    num_steps, k, uniform_prob, batches = case
    sampler = LossSecondMomentResampler(num_steps, history_per_term=k, uniform_prob=uniform_prob)
    oracle = LastKHistory(num_steps, k, uniform_prob)
    for batch in batches:
        steps, values = zip(*batch, strict=True)
        _feed(sampler, oracle, list(steps), list(values))
        _check(sampler, oracle)
    assert sampler.warmed_up


def test_history_keeps_exactly_the_last_k_losses_below_one():
    """A worked stream: T = 3, K = 3, 4K distinct losses in (0, 1) per step, one at a time.

    Losses below 1 matter: the sampler rescales by the largest |loss| before squaring.
    """
    num_steps, k = 3, 3
    sampler = LossSecondMomentResampler(num_steps, history_per_term=k)
    oracle = LastKHistory(num_steps, k, 0.001)
    for n in range(4 * k):
        for step in range(num_steps):
            value = (1 + n + 5 * step) / 100.0  # distinct, increasing: 0.01 ... 0.22
            _feed(sampler, oracle, [step], [value])
            _check(sampler, oracle)
    # the last 3 at step 0 are 0.10, 0.11, 0.12: RMS √((0.01 + 0.0121 + 0.0144)/3)
    rms = [math.sqrt(math.fsum(((1 + n + 5 * s) / 100.0) ** 2 for n in (9, 10, 11)) / 3)
           for s in range(num_steps)]
    expected = [0.999 * r / math.fsum(rms) + 0.001 / num_steps for r in rms]
    assert_close(sampler.probabilities(), np.array(expected), TOL)


@pytest.mark.parametrize("scale", [1e-200, 1e-3, 1e3, 1e200])
def test_probabilities_do_not_depend_on_the_scale_of_the_losses(scale):
    """Eq. (18) is homogeneous of degree 0 in the losses, for every finite float64 scale."""
    base = np.array([[0.3, 0.1, 0.2], [2.0, 1.0, 0.5], [0.05, 0.07, 0.01], [4.0, 0.0, 3.0]])
    probs = []
    for factor in (1.0, scale):
        sampler = LossSecondMomentResampler(4, history_per_term=3)
        for column in range(3):
            sampler.update_with_losses(torch.arange(4), torch.from_numpy(base[:, column] * factor))
        probs.append(sampler.probabilities())
    assert np.all(np.isfinite(probs[1]))
    assert_close(probs[1], probs[0], TOL)


def test_all_zero_losses_leave_the_distribution_uniform():
    """Every recorded loss 0: eq. (18) is 0/0; the sampler stays uniform (weights 1)."""
    sampler = LossSecondMomentResampler(4, history_per_term=2)
    for _ in range(3):
        sampler.update_with_losses(torch.arange(4), torch.zeros(4, dtype=torch.float64))
    assert sampler.warmed_up
    assert_close(sampler.probabilities(), np.full(4, 0.25), TOL)


def test_defaults_are_improved_ddpm_values():
    """K = 10 (Improved DDPM §3.3: "the previous 10 values of the loss term") and u = 0.001
    (improved-diffusion's resample.py, ``uniform_prob=0.001``)."""
    sampler = LossSecondMomentResampler(7)
    assert sampler.history_per_term == 10
    assert sampler.uniform_prob == 0.001


def test_sample_without_a_generator_draws_t_with_weights_one_over_t_p():
    """Without a generator the draw happens on the CPU (global RNG) and the weights are still
    1/(T p_t) for the drawn t: the importance-sampling estimate stays unbiased."""
    sampler = LossSecondMomentResampler(4, history_per_term=2)
    for _ in range(2):
        sampler.update_with_losses(torch.arange(4), torch.tensor([0.1, 0.4, 1.0, 2.0]))
    t, weights = sampler.sample(500)
    probs = sampler.probabilities()
    assert t.dtype == torch.int64 and t.min() >= 0 and t.max() <= 3
    assert_close(weights, 1.0 / (4 * probs[t.numpy()]), TOL)


def test_sample_draws_from_the_generator_it_is_given():
    """Randomness is injected: equal seeds give equal draws, whatever the global RNG did."""
    sampler = LossSecondMomentResampler(6, history_per_term=1)
    sampler.update_with_losses(torch.arange(6), torch.arange(1.0, 7.0))
    first = sampler.sample(64, generator=torch.Generator().manual_seed(3))
    torch.rand(10)  # move the global RNG
    second = sampler.sample(64, generator=torch.Generator().manual_seed(3))
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def test_update_accepts_t_and_losses_of_any_equal_shape():
    """The contract allows t and losses of any shapes of equal size: [B, 1] records what the
    flat [B] update records."""
    steps, values = [0, 1, 1, 2, 0, 2], [0.5, 0.25, 2.0, 1.0, 4.0, 0.125]
    flat = LossSecondMomentResampler(3, history_per_term=2)
    column = LossSecondMomentResampler(3, history_per_term=2)
    flat.update_with_losses(torch.tensor(steps), torch.tensor(values, dtype=torch.float64))
    column.update_with_losses(torch.tensor(steps).reshape(-1, 1),
                              torch.tensor(values, dtype=torch.float64).reshape(-1, 1))
    assert column.warmed_up and flat.warmed_up
    assert_close(column.probabilities(), flat.probabilities(), TOL)
