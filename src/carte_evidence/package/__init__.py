"""The data package itself: schema, parsing, rules, validation, loading."""
