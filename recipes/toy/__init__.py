"""The built-in toy model's recipe: synthetic data, VAE training, the UNet run, the benchmark and the model card.

Reproduce the model shipped in ``videocomposer/assets/toy_model`` from nothing::

    python -m recipes.toy --output-dir runs/toy --threads 2 --evaluate --install

Modules: :mod:`.settings` (seeds, sizes, sampling defaults, architectures), :mod:`.synthetic` (the clips),
:mod:`.vae` (the autoencoder's training), :mod:`.recipe` (the stages), :mod:`.benchmark` (the held-out
evaluation), :mod:`.card` with ``card_template.md`` (the model card), :mod:`.demo_assets` (the inputs of
``videocomposer demo``), :mod:`.install` (the model, its records and card into the package) and
:mod:`.__main__` (the command line).
"""
