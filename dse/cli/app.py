"""The Typer application object; command modules register on it."""

import typer

app = typer.Typer(
    name="dse",
    help="Design-space exploration for neural-network accelerators on FPGAs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
