"""Fault-injection suite (issue 5 item 5): broken landing files, dirty rows, a full disk, two runs of one month at
once, files still being written, and training misconfigurations, each through the real Dagster jobs. Every case
asserts a clear error (naming the file, the problem and the fix) or a quarantine with a reason, and that no row
is lost: raw rows = cleaned rows + rejected rows."""
