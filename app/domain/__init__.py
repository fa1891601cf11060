"""The domain: what a live blog is, without I/O. Tables and the API's shapes (`models`),
the events readers receive (`events`), who may do what to an entry (`entry_rules`),
Markdown to sanitised HTML (`render`, `embeds`), paging cursors, language tags."""
