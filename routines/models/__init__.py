"""Domain models of the routines core; one module per aggregate as they arrive."""
