"""The built-in toy model's recipe: synthetic data, VAE training, the UNet run, the benchmark and the model card.

Build the model from nothing (``--world v1`` for the world of the model shipped in
``videocomposer/assets/toy_model``)::

    python -m recipes.toy --output-dir runs/toy --threads 2 --evaluate --install

Modules: :mod:`.settings` (seeds, sizes, sampling defaults, architectures), :mod:`.synthetic` (the clips and
their truth files, by world: :mod:`.world` with :mod:`.shapes`, :mod:`.paths`, :mod:`.backgrounds` and
:mod:`.encoders`; :mod:`.world_v1`), :mod:`.vae` (the autoencoder's training), :mod:`.recipe` (the stages),
:mod:`.benchmark` (the held-out evaluation against ground truth), :mod:`.codec_benchmark` (by codec motion
vectors, the model card's tables), :mod:`.heldout` (what the two share), :mod:`.card` with ``card_template.md`` (the model card), :mod:`.demo_assets` (the inputs of
``videocomposer demo``), :mod:`.install` (the model, its records and card into the package) and
:mod:`.__main__` (the command line).
"""
