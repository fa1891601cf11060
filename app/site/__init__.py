"""The site readers load: pages, feeds and the sitemap (`pages`), what each shows
(`page_data`, `metadata`, `history`), their cache (`pagecache`), languages (`i18n`) and
the Jinja2 templates."""
