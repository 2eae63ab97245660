"""``videocomposer ui``: a local Gradio app over the generation pipeline (needs the ``ui`` extra).

:mod:`.cli` (the subcommand; imports no gradio until it runs), :mod:`.model` (which model is served),
:mod:`.jobs` (a form → the ``generate`` command it describes), :mod:`.app` (the Blocks layout).
"""
