"""The rules runner: feeds the pure core from the store, writes the difference, fires deadlines."""
