"""Pure domain rules: how a volume is laid out from a create request."""
