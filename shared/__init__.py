"""What node and hub must agree on: protocol, signing, encoding, catalogue, states, validation."""

__version__ = "0.1.0"
