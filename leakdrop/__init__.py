"""leakdrop: the software behind Technopoleaks, an anonymous document drop."""

__version__ = "0.1.0"
