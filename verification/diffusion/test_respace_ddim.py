"""Timestep respacing: "ddimN" (DDIM §4.2's evenly strided subsequence) and sections.

``space_timesteps(T, "ddimN")`` keeps the steps 0, s, 2s, ... for the stride s that leaves
exactly N of them: N = T is stride 1 (every step), N = 1 is the single step 0. With section
counts it follows improved-diffusion's ``space_timesteps``, re-derived below with Fractions.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from ddpm_math.diffusion.respace import space_timesteps


@pytest.mark.parametrize("T", [1, 2, 7, 10, 50])
def test_ddim_all_steps_is_stride_one(T):
    assert list(space_timesteps(T, f"ddim{T}")) == list(range(T))


@pytest.mark.parametrize(("T", "count", "stride"), [(10, 5, 2), (10, 1, 10), (50, 10, 5),
                                                     (1000, 50, 20), (9, 3, 3)])
def test_ddim_keeps_an_evenly_strided_subsequence(T, count, stride):
    assert list(space_timesteps(T, f"ddim{count}")) == list(range(0, T, stride))


def sections_by_hand(T, counts):
    """improved-diffusion's space_timesteps with exact rationals: T cut into len(counts)
    sections, the first T mod n one step longer; section i keeps counts[i] of its steps at
    round(j (size-1)/(count-1)), j = 0..count-1 (round half to even, as numpy and Python do)."""
    base, extra = divmod(T, len(counts))
    kept, start = set(), 0
    for i, count in enumerate(counts):
        size = base + (1 if i < extra else 0)
        if count == 1:
            kept.add(start)
        else:
            kept |= {start + round(Fraction(j * (size - 1), count - 1)) for j in range(count)}
        start += size
    return sorted(kept)


@pytest.mark.parametrize(("T", "counts"), [
    (10, [3, 2]), (11, [3, 2]), (13, [4, 1, 3]), (100, [10, 20, 5]), (101, [7, 7, 7]),
    (7, [3, 2, 1]), (9, [5, 4]), (1000, [25, 25, 25, 25]), (20, [1, 1, 1])])
def test_sections_match_improved_diffusion_by_hand(T, counts):
    assert space_timesteps(T, counts) == sections_by_hand(T, counts)
    assert space_timesteps(T, ",".join(map(str, counts))) == sections_by_hand(T, counts)


def test_a_section_may_keep_all_of_its_steps():
    """count = size keeps every step of the section (11 = 6 + 5: all 6, then 2 of 5)."""
    assert space_timesteps(11, [6, 2]) == [0, 1, 2, 3, 4, 5, 6, 10]
