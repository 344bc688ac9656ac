"""Services: each operation validates, builds a transaction and runs it."""
