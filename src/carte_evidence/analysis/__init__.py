"""What the evidence says: statistics, summaries, grades, derived tables, trials, coverage."""
