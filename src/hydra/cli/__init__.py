"""The ``hydra`` command line. Subcommand modules import heavy dependencies lazily."""
