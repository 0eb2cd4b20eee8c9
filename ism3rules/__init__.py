"""ism3rules: O-ISM3 capability and maturity assessment from evidence bundles."""

__version__ = "0.2.0"
