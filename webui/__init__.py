"""The dashboard's templates, CSS and JavaScript, shipped as package data (no build step)."""
