"""intake: support mail and hotline calls in, tickets with SLA deadlines and acknowledgements out."""

__version__ = "0.1.0"
