"""Three identities of the kernels' plumbing that the samplers rely on.

``append_dims(v, v.ndim)`` is ``v`` itself (no dimension missing: the coefficient of a
[B]-shaped x); ``gather`` returns coef[t] in x's dtype (rounded once from the float64 table);
and a respacing given as the int N, the string "N" or the list [N] keeps the same
N evenly spaced steps of one section (improved-diffusion's ``space_timesteps``).
"""

from __future__ import annotations

import pytest
import torch

from ddpm_math.diffusion.respace import space_timesteps
from ddpm_math.diffusion.tensors import append_dims, gather


@pytest.mark.parametrize("shape", [(3,), (3, 1), (2, 4, 5)])
def test_append_dims_to_the_same_ndim_is_the_identity(shape):
    v = torch.arange(float(torch.tensor(shape).prod())).reshape(shape)
    assert torch.equal(append_dims(v, v.ndim), v)
    assert append_dims(v, v.ndim + 2).shape == shape + (1, 1)


@pytest.mark.parametrize(("T", "count"), [(10, 1), (10, 4), (50, 10), (7, 7)])
def test_one_section_count_as_int_string_or_list(T, count):
    steps = space_timesteps(T, [count])
    assert space_timesteps(T, count) == steps == space_timesteps(T, str(count))
    assert len(steps) == count and steps[0] == 0 and steps[-1] == (T - 1 if count > 1 else 0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64])
def test_gather_returns_the_coefficient_in_the_dtype_of_x(dtype):
    """A float64 table gathered for x of another dtype: coef[t] rounded once to x's dtype."""
    coef = torch.linspace(0.1, 0.9, 7, dtype=torch.float64) ** 3
    t = torch.tensor([0, 3, 6, 3])
    like = torch.zeros(4, 2, 5, dtype=dtype)
    got = gather(coef, t, like)
    assert got.dtype == dtype and got.shape == (4, 1, 1)
    assert torch.equal(got.reshape(-1), coef[t].to(dtype))
