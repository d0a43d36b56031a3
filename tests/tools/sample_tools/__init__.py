"""A tool package the registry tests scan instead of (or next to) the real implementations."""
