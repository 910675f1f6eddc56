"""The flash-sale benchmark (issue 6): `python -m bench.flash_sale [--quick]`."""
