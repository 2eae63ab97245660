"""``videocomposer ui``: a local Gradio app over the generation pipeline (needs the ``ui`` extra).

:mod:`.model` (which model is served), :mod:`.jobs` (the form → a :class:`~videocomposer.app.GenerateRequest`
and its job folder), :mod:`.drawing` (motion drawn on the first frame), :mod:`.app` (the Blocks layout and its
API endpoints).
"""
