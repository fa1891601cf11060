// @ts-check
// The search page is complete without this; with it, times are the reader's own.
import { localizeTimes } from "./entry.js";

localizeTimes(document);
