"""The built-in plugins' own tests, one folder per plugin folder under plugins/."""
