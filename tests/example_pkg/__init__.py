"""An example advise-bench plugin (docs/your-own-method.md): gradient x input, in :mod:`.gradient_input`."""
