"""diplo's version, in a module of its own so that the pack loader can check a pack's
`diplo` requirement without importing the package's public API (which imports the loader)."""
__version__ = "0.2.0"
