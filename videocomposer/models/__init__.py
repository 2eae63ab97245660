"""Networks: the VideoComposer UNet and STC encoders, attention, the CLIP towers and the VAE."""
