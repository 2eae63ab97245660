"""Recipes: how the models that ship with ``videocomposer`` are made, run from a checkout of the repository.

They use the library and are not part of it (the installed package never imports them)::

    python -m recipes.toy --output-dir runs/toy --threads 2 --evaluate --install
"""
