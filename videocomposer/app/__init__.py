"""The application layer under every front end: one typed request per action, checked in one place, and the
function that runs it. The command line turns flags into a request, the web app turns its form into one,
and a Python program builds one directly::

    from videocomposer.app import GenerateRequest, RequestError, generate
    try:
        result = generate(GenerateRequest(task="compose", conditions="y", prompt="a red ball", weights_dir="toy"))
    except RequestError as error:
        print(error.field, error)      # the field at fault, and what was expected

=========================  ================================  ==============================================
request                    runs with                         does
=========================  ================================  ==============================================
:class:`GenerateRequest`   :func:`generate`                  a task preset (or task YAML) → videos
:class:`ExtractRequest`    :func:`extract`                   a video's conditions → tensors and previews
:class:`DatasetExtractRequest` :func:`extract_dataset`       a dataset → the training condition cache
:class:`ConvertRequest`    :func:`convert`                   official weight files → a save_pretrained folder
:class:`DemoRequest`       :func:`run_demo`                  the built-in toy model on a synthetic clip
:class:`TrainRequest`      :func:`train`                     fine-tune the UNet
:class:`EvaluateRequest`   :func:`evaluate`                  metrics of generated videos
=========================  ================================  ==============================================

A bad field raises :class:`RequestError` naming it (``error.field``); front ends spell it their own way
(:meth:`RequestError.render`). Names resolve on first use, so importing this package stays cheap.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_LAZY = {
    "RequestError": ".errors",
    "mention": ".errors",
    "user_errors": ".errors",
    "GenerateRequest": ".generation_request",
    "generate": ".generation",
    "GenerateResult": ".generation",
    "ExtractRequest": ".extraction",
    "extract": ".extraction",
    "DatasetExtractRequest": ".dataset_extraction",
    "extract_dataset": ".dataset_extraction",
    "ConvertRequest": ".conversion",
    "convert": ".conversion",
    "DemoRequest": ".demo",
    "run_demo": ".demo",
    "TrainRequest": ".training",
    "train": ".training",
    "EvaluateRequest": ".evaluation_request",
    "evaluate": ".evaluation",
    "EvaluateResult": ".evaluation",
}

__all__ = list(_LAZY)

__getattr__ = lazy_exports(__name__, _LAZY)
