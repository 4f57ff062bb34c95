"""fashion-transfer: measure the Fashion-MNIST -> DeepFashion transfer gap and five ways to close it."""

__version__ = "0.1.0"
