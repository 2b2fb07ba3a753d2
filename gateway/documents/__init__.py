"""Business documents: the schema registry over ``schemas/``, safe XML parsing, validation
errors with line and path, and the sensitivity of every field."""
