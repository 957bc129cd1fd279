"""What contributors and maintainers run on the source: fmt, diff, scaffold, release."""
