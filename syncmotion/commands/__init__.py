"""One module per `syncmotion` subcommand."""
