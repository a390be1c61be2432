"""The demo app: imports what uvroot staged and reports where each package came from."""

import importlib.metadata as metadata
import sys

import click
import markupsafe
import pygments


@click.command()
@click.option("--name", default="image")
def main(name: str) -> None:
    """Greet, escaping the name with markupsafe's compiled speedups."""
    click.echo(markupsafe.escape(f"<hello {name}>"))
    click.echo(f"python {sys.version.split()[0]} at {sys.executable}")
    for module in (click, markupsafe, pygments):
        dist = metadata.distribution(module.__name__)
        click.echo(f"  {dist.metadata['Name']:<11} {dist.version:<8} installer={dist.read_text('INSTALLER').strip()}"
                   f"  {module.__file__}")
    from markupsafe import _speedups  # the compiled extension: fails if the wrong wheel was staged

    click.echo(f"  compiled extension: {_speedups.__file__}")


if __name__ == "__main__":
    main()
