"""The command-line interface: thin typer commands over library functions."""
