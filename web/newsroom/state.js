// What the newsroom holds: who is signed in, the blog open, its entries and drafts.

export const TOKEN_KEY = "liveupdates.token";
export const OUTBOX_KEY = "liveupdates.outbox";
export const BLOG_KEY = "liveupdates.blog";
export const composeKey = (slug) => `liveupdates.compose.${slug}`;

export const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  me: null,
  authors: [], // the profiles entries may be bylined with
  blogs: [],
  slug: null,
  blog: null,
  entries: new Map(), // id -> entry, published ones
  drafts: new Map(), // id -> entry, drafts and scheduled ones
  queue: new Map(), // id -> entry, contributors' submissions (submitted or returned)
  offset: 0,
  epoch: "", // the stream `offset` counts in
  following: null, // the blog's events, from follow.js
};

export const isContributor = () => state.me?.role === "contributor";
