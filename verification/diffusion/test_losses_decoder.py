"""The torch training loss passes its decoder choice to the bound's t = 0 term (DDPM eq. 13).

The kernel ``diffusion.losses.training_losses`` against the float64 reference
``reference.losses.training_losses`` (itself checked against eqs. 7, 12, 13 written out in
``verification/reference/test_losses_by_hand.py``) for every decoder, at every t including 0,
where the three decoders give different values.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ddpm_math.diffusion.losses import training_losses
from ddpm_math.diffusion.options import DecoderType, LossType, MeanType, VarType
from ddpm_math.reference import losses as ref_losses
from ddpm_math.schedules import NoiseSchedule

T = 8
SCHEDULE = NoiseSchedule.linear(T, 1e-3, 0.2)


def _case():
    rng = np.random.default_rng(4)
    t = np.arange(T)
    x0 = rng.integers(0, 256, (T, 2, 3)) / 127.5 - 1.0  # 8-bit data for the discrete decoders
    noise, output = rng.standard_normal((T, 2, 3)), rng.standard_normal((T, 4, 3))
    alpha_bar = np.cumprod(1.0 - SCHEDULE.beta)[t].reshape(-1, 1, 1)
    x_t = np.sqrt(alpha_bar) * x0 + np.sqrt(1.0 - alpha_bar) * noise
    return t, x0, noise, x_t, output


@pytest.mark.parametrize("loss_type", ["vlb", "hybrid"])
@pytest.mark.parametrize("decoder", list(DecoderType))
def test_kernel_uses_the_decoder_it_is_given(decoder, loss_type):
    t, x0, noise, x_t, output = _case()
    tensors = [torch.from_numpy(a) for a in (output, x0, x_t, t, noise)]
    got = training_losses(SCHEDULE.to_torch(), *tensors, MeanType.EPS, VarType.LEARNED_RANGE,
                          LossType(loss_type), decoder)
    want = ref_losses.training_losses(SCHEDULE, output, x0, x_t, t, noise, "eps",
                                      "learned_range", loss_type, decoder.value)
    for key in ("vb", "loss"):
        np.testing.assert_allclose(got[key].numpy(), want[key], rtol=1e-10, atol=1e-12,
                                   err_msg=key)
    others = [ref_losses.training_losses(SCHEDULE, output, x0, x_t, t, noise, "eps",
                                         "learned_range", loss_type, d.value)["vb"][0]
              for d in DecoderType if d is not decoder]
    assert all(abs(other - want["vb"][0]) > 1e-6 for other in others)  # t = 0 tells them apart
