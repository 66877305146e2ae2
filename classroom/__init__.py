"""Classroom mode: cohorts, accounts, and the broker credentials and ACLs that fence each trainee in."""
