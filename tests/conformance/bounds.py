"""Every conformance bound, in one table that mirrors the fixture README's "Recommended acceptance
bounds" (``../shared/fixtures/reference/README.md``). A changed bound is a change of one line here.

Bounds are max abs differences unless the name says otherwise. They are the README's; never loosen
one to make a test pass: find the difference instead.
"""

from __future__ import annotations

BOUNDS: dict[str, float] = {
    # unet: every `outputs` entry (also the UNet output fed to the diffusion loss fixture)
    "unet.outputs": 2e-4,
    # diffusion
    "diffusion.schedule_relative": 1e-12,  # float64 schedule arrays, max relative difference
    "diffusion.loss": 1e-5,  # `loss`, and the q_sample `xt` it is computed from
    "diffusion.ddim_x_final": 5e-3,  # `ddim.*.x_final` and `x_per_step` (guide 9.0)
    # autoencoder
    "autoencoder.latents": 5e-5,  # moments, posterior mean / logvar / std, latents
    "autoencoder.decoded": 2e-4,
    # clip
    "clip.embeddings": 5e-5,  # text / image embeddings (tokens are exact)
    # annotators
    "annotators.pidinet_edge": 2e-5,
    "annotators.sketch": 1e-4,
    "annotators.midas_raw": 1e-3,
    # video
    "video.mv_data": 1e-5,  # mv_data recomputed from the stored raw motion vectors
}

# `toy_sampler.*`: the README's rule is keyed by the run's step count. Float32 rounding drifts between
# CPUs (AMD AVX2 vs Intel AVX-512) as the steps accumulate: 1e-5 holds for the 5-step runs on any CPU,
# the 50-step runs need 1e-4. A run of at most the largest short count takes the short bound.
TOY_SAMPLER_SHORT_RUN_STEPS = 5
TOY_SAMPLER_SHORT_RUN_BOUND = 1e-5
TOY_SAMPLER_LONG_RUN_BOUND = 1e-4


def toy_sampler_bound(num_steps: int) -> float:
    """The README's bound for a toy-sampler run of ``num_steps`` DDIM steps."""
    if num_steps <= TOY_SAMPLER_SHORT_RUN_STEPS:
        return TOY_SAMPLER_SHORT_RUN_BOUND
    return TOY_SAMPLER_LONG_RUN_BOUND


# Where each bound stands in the README's table: (fixture column, a phrase of the tensor column).
README_ROWS: dict[str, tuple[str, str]] = {
    "unet.outputs": ("unet", "`outputs`"),
    "diffusion.schedule_relative": ("diffusion", "schedule arrays"),
    "diffusion.loss": ("diffusion", "`loss`"),
    "diffusion.ddim_x_final": ("diffusion", "`ddim.*.x_final`"),
    "autoencoder.latents": ("autoencoder", "latents"),
    "autoencoder.decoded": ("autoencoder", "decoded"),
    "clip.embeddings": ("clip", "embeddings"),
    "annotators.pidinet_edge": ("annotators", "`pidinet_edge`"),
    "annotators.sketch": ("annotators", "`sketch`"),
    "annotators.midas_raw": ("annotators", "`midas_raw`"),
    "video.mv_data": ("video", "`mv_data`"),
}
