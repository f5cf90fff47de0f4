"""Backfill scans: the streaming job's operators behind a listing source (folder, object-store prefix, JSONL
manifest, lake query), writing to the same sinks, resumable from a per-run ledger, diffable between runs."""
