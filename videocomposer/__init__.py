"""VideoComposer: compositional video synthesis with motion controllability, in PyTorch."""
__version__ = "0.1.0"
