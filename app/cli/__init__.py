"""The `liveupdates` command (`command`) and what it runs: migrations, the demo blog,
backups, posting, the catalogs' upkeep."""
