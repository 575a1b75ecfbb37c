"""Reading istioctl bug-report archives as snapshots: the layout each istioctl version writes
(`layout`), its files read within bounds (`files`), and its translation into the
`meshbot.snapshot/v1` format (`translate`), which `diagnostics.snapshot.Snapshot.open` uses
whenever it is given a bug-report instead of a snapshot."""
