// @ts-check
// The events a blog's readers receive, named as the server names them (app/events.py),
// and the close codes a reader acts on (docs/API.md).

export const EVENT = Object.freeze({
  HELLO: "hello",
  ENTRY_CREATED: "entry.created",
  ENTRY_UPDATED: "entry.updated",
  ENTRY_DELETED: "entry.deleted",
  BLOG_UPDATED: "blog.updated",
  AUDIENCE: "audience", // a notice, without an offset: how many read the blog now
});

export const CLOSE = Object.freeze({
  BAD_OFFSET: 4400, // our offset is no good: start afresh from the page or the API
  STREAM_CHANGED: 4409, // our offset counts in another stream (a restore): start afresh
  NO_SUCH_BLOG: 4404,
});
