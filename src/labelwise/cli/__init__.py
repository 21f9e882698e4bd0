"""The `labelwise` command line (typer), one module per command group."""
