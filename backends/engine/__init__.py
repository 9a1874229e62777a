"""The execution engine: evaluates Sigma rules and `aggregate` correlations on Okta System Log streams."""
