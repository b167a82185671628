// Entry of t.tcf.js: the IAB TCF v2.2 listener, which t.js imports only where a CMP (`__tcfapi`) is on
// the page, so that sites without one never download it.
import { listenTcf } from './tcf.js';

try {
  listenTcf();
} catch {}
