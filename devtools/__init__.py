"""Developer tools shipped with newsmon: the bundled sample-feed server."""
