"""The cloud's HTTP routes, one module per resource."""
