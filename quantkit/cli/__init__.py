"""The ``quantkit`` command line (click). Entry point: :func:`quantkit.cli.main.main`."""
