"""The docs stay true: their code blocks run, their links hold, the plugin API page and the example packages work."""
