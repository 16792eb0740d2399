"""Not tests: the landing zones, warehouses and pipeline runs the tests build on."""
