"""HTTP routes; each file is one URL family."""
