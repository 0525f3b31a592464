"""dse: design-space exploration for neural-network accelerators on FPGAs."""

__version__ = "0.1.0"
