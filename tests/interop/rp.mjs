#!/usr/bin/env node
// Interoperability relying party for the idp OpenID Provider.
//
// Signs in against an OpenID Provider with panva's `openid-client` 6 (certified OpenID RP library)
// the way a real web RP would, fills the OP's HTML forms like a person would, and prints ONE JSON
// object to stdout describing what happened. Exit status 0 when every step that ran succeeded,
// 1 otherwise ({"ok": false, "step": ..., "error": ..., "details": ...}), 2 on bad configuration.
//
// Environment (see README.md):
//   OP_ISSUER                    issuer identifier, e.g. http://127.0.0.1:5000 (loopback only)
//   RP_CLIENT_ID                 client_id (not with RP_INITIAL_ACCESS_TOKEN)
//   RP_INITIAL_ACCESS_TOKEN      register the client first (RFC 7591, openid-client's
//                                dynamicClientRegistration) with this bearer token; the registered
//                                client then signs in. Extra metadata as JSON in RP_REGISTER_METADATA
//   RP_CLIENT_SECRET             client secret -> client_secret_basic
//   RP_PRIVATE_JWK               private JWK (JSON text, or a path to a JSON file) -> private_key_jwt
//   RP_TOKEN_ENDPOINT_AUTH_METHOD  optional override: client_secret_basic | client_secret_post |
//                                private_key_jwt | none
//   RP_REDIRECT_URI              registered redirect_uri (never contacted)
//   RP_POST_LOGOUT_REDIRECT_URI  registered post_logout_redirect_uri (never contacted)
//   RP_USERNAME, RP_PASSWORD     the end-user's credentials
//   RP_TOTP_SECRET               optional base32 TOTP secret for an autocomplete="one-time-code" field
//   RP_SCOPE                     default "openid profile email offline_access"
//   RP_PROMPT                    default "consent" (empty string: send no prompt)
//   RP_CONSENT                   allow (default) | deny: press deny and expect an error authorization
//                                response (state + iss checked by openid-client); the flow stops there
//   RP_EXTRA_AUTH_PARAMS         optional extra authorization request params, query-string syntax
//   RP_ID_TOKEN_ALG              optional: register/expect id_token_signed_response_alg (e.g. ES256)
//   RP_SKIP                      comma list of steps to skip: userinfo,refresh,revocation,end_session,
//                                session_check
//   RP_MAX_HOPS                  browser hops allowed for the login (default 20)
//   RP_TIMEOUT                   per-request timeout in seconds (default 10)
//   RP_DEBUG=1                   trace browser hops on stderr
//   RP_PAR=1                     push the authorization request first (RFC 9126) and send only
//                                client_id and request_uri to the authorization endpoint
//   RP_DPOP=1                    sender-constrain tokens with DPoP (RFC 9449): a fresh ES256 key;
//                                the code exchange, userinfo and refresh carry proofs
import * as fs from 'node:fs';
import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';
import { pathToFileURL } from 'node:url';

import * as client from 'openid-client';

const env = process.env;
const DEBUG = env.RP_DEBUG === '1';
const TIMEOUT_S = Number(env.RP_TIMEOUT || 10);
const MAX_HOPS = Number(env.RP_MAX_HOPS || 20);
const SKIP = new Set((env.RP_SKIP || '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));
const KNOWN_SKIPS = new Set(['userinfo', 'refresh', 'revocation', 'end_session', 'session_check']);
const USER_AGENT = 'idp-interop-rp (openid-client)';
const USE_PAR = env.RP_PAR === '1';
const USE_DPOP = env.RP_DPOP === '1';

const steps = [];
const result = { ok: true };

class StepError extends Error {
  constructor(message, details) {
    super(message);
    this.details = details;
  }
}

// ---------------------------------------------------------------------------------------------
// Output helpers
// ---------------------------------------------------------------------------------------------

function debug(...args) {
  if (DEBUG) console.error('[rp]', ...args);
}

// JSON-safe copy of arbitrary values (errors, URLs, Responses, URLSearchParams, cyclic graphs).
function plain(value, depth = 0, seen = new WeakSet()) {
  if (value === null || value === undefined) return value ?? null;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'symbol' || typeof value === 'function') return String(value);
  if (typeof value !== 'object') return value;
  if (depth > 6) return '[depth]';
  if (seen.has(value)) return '[cycle]';
  seen.add(value);
  if (value instanceof URL) return value.href;
  if (value instanceof URLSearchParams) return Object.fromEntries(value.entries());
  if (typeof Response !== 'undefined' && value instanceof Response) {
    return { status: value.status, url: value.url || undefined, headers: Object.fromEntries(value.headers.entries()) };
  }
  if (typeof Headers !== 'undefined' && value instanceof Headers) return Object.fromEntries(value.entries());
  if (value instanceof Error) {
    const out = { name: value.name, message: value.message };
    for (const k of ['code', 'error', 'error_description', 'status']) {
      if (value[k] !== undefined) out[k] = plain(value[k], depth + 1, seen);
    }
    if (value.details !== undefined) out.details = plain(value.details, depth + 1, seen);
    if (value.cause !== undefined) out.cause = plain(value.cause, depth + 1, seen);
    return out;
  }
  if (ArrayBuffer.isView(value)) return `[${value.constructor.name} ${value.byteLength} bytes]`;
  if (Array.isArray(value)) return value.map((v) => plain(v, depth + 1, seen));
  const out = {};
  for (const [k, v] of Object.entries(value)) out[k] = plain(v, depth + 1, seen);
  return out;
}

function errorCode(err) {
  // OAuth error code from the server, when there is one.
  if (err instanceof client.ResponseBodyError || err instanceof client.AuthorizationResponseError) return err.error;
  if (err instanceof client.WWWAuthenticateChallengeError) {
    const ch = err.cause?.[0];
    return ch?.parameters?.error || ch?.scheme || 'www_authenticate_challenge';
  }
  return undefined;
}

function describeError(err) {
  if (err instanceof StepError) return { error: err.message, details: plain(err.details) };
  if (err instanceof client.ResponseBodyError) {
    return {
      error: err.error,
      details: { status: err.status, error_description: err.error_description, body: plain(err.cause), message: err.message },
    };
  }
  if (err instanceof client.AuthorizationResponseError) {
    return { error: err.error, details: { error_description: err.error_description, parameters: plain(err.cause) } };
  }
  if (err instanceof client.WWWAuthenticateChallengeError) {
    return { error: errorCode(err), details: { status: err.status, challenges: plain(err.cause), message: err.message } };
  }
  if (err instanceof client.ClientError) {
    return { error: err.message, details: { code: err.code, cause: plain(err.cause) } };
  }
  return { error: err?.message || String(err), details: plain(err) };
}

function emit(obj, code) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
  process.exitCode = code;
}

async function step(name, fn) {
  const started = Date.now();
  const entry = { name, ok: false };
  steps.push(entry);
  try {
    const value = await fn(entry);
    entry.ok = true;
    return value;
  } catch (err) {
    entry.error = describeError(err).error;
    err.step ??= name;
    throw err;
  } finally {
    entry.ms = Date.now() - started;
  }
}

function skipped(name, why = 'RP_SKIP') {
  steps.push({ name, ok: true, skipped: why });
}

// ---------------------------------------------------------------------------------------------
// Network guard: only loopback is ever contacted
// ---------------------------------------------------------------------------------------------

function isLoopbackHost(hostname) {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

function assertLoopback(url) {
  const u = url instanceof URL ? url : new URL(String(url));
  if (!['http:', 'https:'].includes(u.protocol) || !isLoopbackHost(u.hostname)) {
    throw new StepError('refusing_non_loopback_url', { url: u.href });
  }
}

// Fetch used by openid-client for its back-channel requests (discovery, jwks, token, userinfo, ...).
async function guardedFetch(url, options) {
  assertLoopback(url);
  return fetch(url, options);
}

// ---------------------------------------------------------------------------------------------
// Cookie jar: a Map per host, fed from Set-Cookie headers (loopback, so Secure cookies are kept)
// ---------------------------------------------------------------------------------------------

const jar = new Map(); // hostname -> Map(`${name}\u0000${path}` -> {name, value, path, expires})

function defaultCookiePath(pathname) {
  if (!pathname.startsWith('/') || pathname === '/') return '/';
  const i = pathname.lastIndexOf('/');
  return i <= 0 ? '/' : pathname.slice(0, i);
}

function storeCookies(url, response) {
  const lines = typeof response.headers.getSetCookie === 'function' ? response.headers.getSetCookie() : [];
  if (!lines.length) return;
  const host = url.hostname;
  if (!jar.has(host)) jar.set(host, new Map());
  const cookies = jar.get(host);
  for (const line of lines) {
    const [pair, ...attrs] = line.split(';');
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (!name) continue;
    let path = defaultCookiePath(url.pathname);
    let expires;
    let maxAge;
    for (const attr of attrs) {
      const i = attr.indexOf('=');
      const k = (i < 0 ? attr : attr.slice(0, i)).trim().toLowerCase();
      const v = i < 0 ? '' : attr.slice(i + 1).trim();
      if (k === 'path' && v.startsWith('/')) path = v;
      else if (k === 'max-age' && /^-?\d+$/.test(v)) maxAge = Number(v);
      else if (k === 'expires') {
        const t = Date.parse(v);
        if (!Number.isNaN(t)) expires = t;
      }
    }
    if (maxAge !== undefined) expires = Date.now() + maxAge * 1000;
    const key = `${name}\u0000${path}`;
    if (expires !== undefined && expires <= Date.now()) cookies.delete(key);
    else cookies.set(key, { name, value, path, expires });
  }
}

function pathMatches(cookiePath, reqPath) {
  if (reqPath === cookiePath) return true;
  if (!reqPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || reqPath[cookiePath.length] === '/';
}

function cookieHeader(url) {
  const cookies = jar.get(url.hostname);
  if (!cookies) return undefined;
  const now = Date.now();
  const list = [...cookies.values()]
    .filter((c) => (c.expires === undefined || c.expires > now) && pathMatches(c.path, url.pathname || '/'))
    .sort((a, b) => b.path.length - a.path.length);
  return list.length ? list.map((c) => `${c.name}=${c.value}`).join('; ') : undefined;
}

// One browser request: cookies in and out, no automatic redirects.
async function browserRequest(url, { method = 'GET', body, referer } = {}) {
  assertLoopback(url);
  const headers = {
    'user-agent': USER_AGENT,
    accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  };
  const cookie = cookieHeader(url);
  if (cookie) headers.cookie = cookie;
  if (referer) {
    headers.referer = referer.href;
    if (method !== 'GET') headers.origin = referer.origin;
  }
  let payload;
  if (body instanceof URLSearchParams) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    payload = body.toString();
  } else if (body !== undefined) {
    payload = body; // FormData: fetch sets the multipart content-type
  }
  const res = await fetch(url.href, {
    method,
    headers,
    body: payload,
    redirect: 'manual',
    signal: AbortSignal.timeout(TIMEOUT_S * 1000),
  });
  storeCookies(url, res);
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, location: res.headers.get('location') };
}

// ---------------------------------------------------------------------------------------------
// Minimal HTML form parser
// ---------------------------------------------------------------------------------------------

const NAMED_ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

function decodeEntities(s) {
  return s.replace(/&(#[xX][0-9a-fA-F]+|#\d+|[a-zA-Z]+);/g, (m, e) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? Number.parseInt(e.slice(2), 16) : Number.parseInt(e.slice(1), 10);
      try { return String.fromCodePoint(cp); } catch { return m; }
    }
    return NAMED_ENTITIES[e.toLowerCase()] ?? m;
  });
}

function parseAttributes(src) {
  const attrs = {};
  const re = /([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  let m;
  while ((m = re.exec(src))) {
    const name = m[1].toLowerCase();
    if (name in attrs) continue; // first occurrence wins, as in HTML
    attrs[name] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attrs;
}

const TOKEN_RE = /<!--[\s\S]*?-->|<![^>]*>|<(script|style|template|noscript)\b[^>]*>[\s\S]*?<\/\1\s*>|<(\/?)([a-zA-Z][a-zA-Z0-9:-]*)((?:[^>"']|"[^"]*"|'[^']*')*)>|([^<]+|<)/g;

function textOf(html) {
  return decodeEntities(html.replace(TOKEN_RE, (m, _raw, _close, tag, _attrs, text) => (text !== undefined ? text : ' ')))
    .replace(/\s+/g, ' ').trim();
}

function parseForms(html) {
  const forms = [];
  const controls = []; // {kind, attrs, formAttr, ownerIndex, text, options}
  let current = null; // form being parsed
  let openButton = null;
  let openSelect = null;
  let openOption = null;
  let openTextarea = null;
  let metaRefresh;
  let m;
  TOKEN_RE.lastIndex = 0;
  while ((m = TOKEN_RE.exec(html))) {
    const [, , close, rawTag, rawAttrs, text] = m;
    if (text !== undefined) {
      if (openButton) openButton.text += text;
      if (openOption) openOption.text += text;
      if (openTextarea) openTextarea.text += text;
      continue;
    }
    if (!rawTag) continue; // comment / script / style
    const tag = rawTag.toLowerCase();
    if (close) {
      if (tag === 'form') current = null;
      else if (tag === 'button') openButton = null;
      else if (tag === 'option') openOption = null;
      else if (tag === 'select') { openSelect = null; openOption = null; }
      else if (tag === 'textarea') openTextarea = null;
      continue;
    }
    const attrs = parseAttributes(rawAttrs || '');
    const own = (c) => {
      c.formAttr = attrs.form;
      c.ownerIndex = current ? current.index : -1;
      controls.push(c);
      return c;
    };
    switch (tag) {
      case 'form':
        current = { index: forms.length, attrs, controls: [] };
        forms.push(current);
        break;
      case 'input':
        own({ kind: 'input', attrs });
        break;
      case 'button':
        openButton = own({ kind: 'button', attrs, text: '' });
        break;
      case 'select':
        openSelect = own({ kind: 'select', attrs, options: [] });
        break;
      case 'option':
        if (openSelect) {
          openOption = { attrs, text: '' };
          openSelect.options.push(openOption);
        }
        break;
      case 'textarea':
        openTextarea = own({ kind: 'textarea', attrs, text: '' });
        break;
      case 'meta':
        if ((attrs['http-equiv'] || '').toLowerCase() === 'refresh') {
          const u = /url\s*=\s*['"]?([^'"]+)/i.exec(attrs.content || '');
          if (u) metaRefresh = u[1].trim();
        }
        break;
      default:
        break;
    }
  }
  const byId = new Map(forms.filter((f) => f.attrs.id).map((f) => [f.attrs.id, f]));
  for (const c of controls) {
    const owner = c.formAttr !== undefined ? byId.get(c.formAttr) : forms[c.ownerIndex];
    if (owner) owner.controls.push(c);
  }
  return { forms, metaRefresh };
}

const DENY_RE = /\b(deny|decline|reject|refuse|disallow|cancel|abort|no|don'?t|do not|not now|stay signed in)\b|ปฏิเสธ|ยกเลิก|ไม่/i;
const ALLOW_RE = /\b(allow|approve|accept|consent|continue|yes|authori[sz]e|grant|agree|confirm|ok|sign[ -]?in|log[ -]?in|sign[ -]?out|log[ -]?out|submit|next|proceed)\b|อนุญาต|ยินยอม|ตกลง|ยืนยัน|ดำเนินการต่อ|เข้าสู่ระบบ/i;
const USERNAME_NAME_RE = /^(login|username|user|user_?name|email|e-?mail|identifier|user_?id|account)$/i;
const OTP_NAME_RE = /^(otp|totp|code|one_?time_?code|otp_?code|mfa_?code)$/i;

function inputType(c) {
  return (c.attrs.type || 'text').toLowerCase();
}

function isSubmitter(c) {
  if (c.kind === 'button') return (c.attrs.type || 'submit').toLowerCase() === 'submit';
  return c.kind === 'input' && ['submit', 'image'].includes(inputType(c));
}

function buttonLabels(c) {
  return [c.attrs.name, c.attrs.value, c.text, c.attrs['aria-label'], c.attrs.title]
    .filter((s) => typeof s === 'string' && s.trim()).map((s) => s.trim());
}
const isDeny = (c) => buttonLabels(c).some((s) => DENY_RE.test(s));
const isAllow = (c) => !isDeny(c) && buttonLabels(c).some((s) => ALLOW_RE.test(s));

function autocompleteTokens(c) {
  return (c.attrs.autocomplete || '').toLowerCase().split(/\s+/).filter(Boolean);
}

// Which credential a text-like input wants: 'username' | 'password' | 'otp' | undefined
function fieldRole(c) {
  if (c.kind !== 'input') return undefined;
  const type = inputType(c);
  if (['hidden', 'submit', 'image', 'button', 'reset', 'checkbox', 'radio', 'file'].includes(type)) return undefined;
  const ac = autocompleteTokens(c);
  if (ac.includes('current-password')) return 'password';
  if (ac.includes('one-time-code')) return 'otp';
  if (ac.includes('username') || ac.includes('email')) return 'username';
  if (ac.includes('new-password')) return 'new-password';
  if (type === 'password') return 'password';
  const name = c.attrs.name || '';
  if (OTP_NAME_RE.test(name) && ['text', 'number', 'tel'].includes(type)) return 'otp';
  if (type === 'email' || USERNAME_NAME_RE.test(name)) return 'username';
  return undefined;
}

function isLanguageSwitch(form) {
  const action = form.attrs.action || '';
  let actionPath = action;
  try { actionPath = new URL(action, 'http://x/').pathname; } catch { /* keep raw */ }
  if (/\/lang(uage)?(\/|$|\?)/i.test(actionPath) || /\/lang\b/i.test(action)) return true;
  return form.controls.some((c) => /^(lang|locale|ui_locales|language)$/i.test(c.attrs.name || '') && !isSubmitter(c)
    && c.kind !== 'button');
}

function formKind(form) {
  const roles = new Set(form.controls.map(fieldRole).filter(Boolean));
  if (roles.has('password')) return 'password';
  if (roles.has('otp')) return 'otp';
  if (roles.has('new-password')) return 'new-password';
  if (roles.has('username')) return 'username';
  return 'other';
}

function chooseForm(forms) {
  const post = forms.filter((f) => (f.attrs.method || 'get').toLowerCase() === 'post' && !isLanguageSwitch(f));
  const rank = { password: 0, otp: 1, username: 2, 'new-password': 5 };
  const scored = post.map((f) => {
    const kind = formKind(f);
    const subs = f.controls.filter(isSubmitter);
    const denyOnly = subs.length > 0 && subs.every(isDeny);
    let score = rank[kind] ?? (subs.some(isAllow) ? 3 : 4);
    if (denyOnly) score = 9;
    return { form: f, kind, score, denyOnly };
  }).sort((a, b) => a.score - b.score || a.form.index - b.form.index);
  return { chosen: scored[0], postForms: post.length, allForms: forms.length };
}

function chooseSubmitter(form, wantDeny = false) {
  const subs = form.controls.filter((c) => isSubmitter(c) && c.attrs.disabled === undefined);
  if (wantDeny) {
    const deny = subs.find(isDeny);
    if (!deny) throw new StepError('no_deny_button_on_consent_form', { buttons: subs.map(buttonLabels) });
    return { submitter: deny };
  }
  if (!subs.length) return { submitter: null };
  const ok = subs.filter((c) => !isDeny(c));
  if (!ok.length) return { onlyDeny: true };
  return { submitter: ok.find(isAllow) || ok[0] };
}

// base32 (RFC 4648) + RFC 6238 TOTP (HMAC-SHA1, 30 s, 6 digits)
function totp(secretB32) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const clean = secretB32.toUpperCase().replace(/[\s=-]/g, '');
  let bits = '';
  for (const ch of clean) {
    const v = alphabet.indexOf(ch);
    if (v < 0) throw new StepError('invalid_totp_secret');
    bits += v.toString(2).padStart(5, '0');
  }
  const bytes = Buffer.from((bits.match(/.{8}/g) || []).map((b) => Number.parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30)));
  const h = createHmac('sha1', bytes).update(counter).digest();
  const off = h[h.length - 1] & 0xf;
  const code = ((h.readUInt32BE(off) & 0x7fffffff) % 1_000_000).toString().padStart(6, '0');
  return code;
}

// Build the submission of `form` (HTML "constructing the entry list"), filling credentials.
function fillForm(form, submitter, creds) {
  const entries = [];
  const filled = [];
  for (const c of form.controls) {
    const name = c.attrs.name;
    if (c.attrs.disabled !== undefined) continue;
    if (isSubmitter(c)) {
      if (c === submitter && name) entries.push([name, c.attrs.value ?? '']);
      continue;
    }
    if (!name) continue;
    if (c.kind === 'button') continue; // type=button/reset
    if (c.kind === 'select') {
      let selected = c.options.filter((o) => o.attrs.selected !== undefined);
      if (!selected.length && c.attrs.multiple === undefined && c.options.length) selected = [c.options[0]];
      for (const o of selected) entries.push([name, o.attrs.value ?? o.text.trim()]);
      continue;
    }
    if (c.kind === 'textarea') {
      entries.push([name, c.text.replace(/^\n/, '')]);
      continue;
    }
    const type = inputType(c);
    if (['button', 'reset', 'file'].includes(type)) continue;
    if (type === 'checkbox' || type === 'radio') {
      if (c.attrs.checked !== undefined) entries.push([name, c.attrs.value ?? 'on']);
      continue;
    }
    const role = type === 'hidden' ? undefined : fieldRole(c);
    if (role === 'username') {
      entries.push([name, creds.username]);
      filled.push(`${name}:username`);
    } else if (role === 'password') {
      entries.push([name, creds.password]);
      filled.push(`${name}:password`);
    } else if (role === 'otp') {
      if (!creds.totpSecret) throw new StepError('otp_asked_no_totp_secret', { field: name });
      entries.push([name, totp(creds.totpSecret)]);
      filled.push(`${name}:otp`);
    } else if (role === 'new-password') {
      throw new StepError('new_password_form', { field: name });
    } else {
      entries.push([name, c.attrs.value ?? '']);
    }
  }
  return { entries, filled };
}

function isUnder(locationUrl, prefix) {
  const href = locationUrl.href;
  if (!href.startsWith(prefix)) return false;
  const next = href[prefix.length];
  return next === undefined || next === '?' || next === '#' || prefix.endsWith('?') || prefix.endsWith('&');
}

// Drive the OP's user agent pages until a redirect whose Location is under one of `stopPrefixes`.
async function browse(startUrl, { stopPrefixes, creds, maxHops = MAX_HOPS, label }) {
  const hops = [];
  let url = new URL(startUrl);
  let method = 'GET';
  let body;
  let referer;
  let lastSubmittedKind;
  for (let i = 0; i < maxHops; i += 1) {
    const res = await browserRequest(url, { method, body, referer });
    const hop = { method, url: url.href, status: res.status };
    hops.push(hop);
    debug(label, method, url.href, res.status, res.location || '');
    if (res.status >= 300 && res.status < 400 && res.location) {
      const loc = new URL(res.location, url);
      hop.location = loc.href;
      const stop = stopPrefixes.find((p) => isUnder(loc, p));
      if (stop) return { location: loc, hops, stoppedAt: stop, lastStatus: res.status };
      if (res.status === 307 || res.status === 308) {
        // re-send the same request (method and body) to the new place
      } else {
        method = 'GET';
        body = undefined;
      }
      url = loc;
      continue;
    }
    const contentType = res.headers.get('content-type') || '';
    const page = { status: res.status, content_type: contentType, text: textOf(res.text).slice(0, 600) };
    if (!/html|xml/i.test(contentType) && !/<form/i.test(res.text)) {
      throw new StepError('unexpected_response', { ...page, hops });
    }
    const { forms, metaRefresh } = parseForms(res.text);
    const { chosen, postForms, allForms } = chooseForm(forms);
    if (!chosen) {
      if (metaRefresh) {
        const loc = new URL(metaRefresh, url);
        hop.meta_refresh = loc.href;
        const stop = stopPrefixes.find((p) => isUnder(loc, p));
        if (stop) return { location: loc, hops, stoppedAt: stop, lastStatus: res.status };
        url = loc;
        method = 'GET';
        body = undefined;
        continue;
      }
      throw new StepError(res.status >= 400 ? 'error_page' : 'no_usable_form', { ...page, forms: allForms, post_forms: postForms, hops });
    }
    if (chosen.denyOnly) throw new StepError(`${chosen.kind}_form_only_deny_buttons`, { ...page, hops });
    if (lastSubmittedKind && chosen.kind === lastSubmittedKind && chosen.kind !== 'other') {
      throw new StepError(`${chosen.kind}_form_shown_again`, { ...page, hops });
    }
    const wantDeny = creds.consent === 'deny' && chosen.kind === 'other';
    const { submitter, onlyDeny } = chooseSubmitter(chosen.form, wantDeny);
    if (onlyDeny) throw new StepError(`${chosen.kind}_form_only_deny_buttons`, { ...page, hops });
    const { entries, filled } = fillForm(chosen.form, submitter, creds);
    const actionAttr = submitter?.attrs.formaction ?? chosen.form.attrs.action;
    const action = actionAttr ? new URL(actionAttr, url) : new URL(url);
    const enctype = (submitter?.attrs.formenctype ?? chosen.form.attrs.enctype ?? '').toLowerCase();
    hop.form = {
      kind: chosen.kind,
      action: action.href,
      fields: entries.map(([k]) => k),
      filled,
      button: submitter ? `${submitter.attrs.name ?? ''}=${submitter.attrs.value ?? ''}`.replace(/^=$/, '(unnamed)') : null,
    };
    if (enctype === 'multipart/form-data') {
      body = new FormData();
      for (const [k, v] of entries) body.append(k, v);
    } else {
      body = new URLSearchParams(entries);
    }
    method = ((submitter?.attrs.formmethod ?? chosen.form.attrs.method) || 'post').toUpperCase() === 'GET' ? 'GET' : 'POST';
    if (method === 'GET') {
      action.search = new URLSearchParams(entries).toString();
      body = undefined;
    }
    referer = url;
    lastSubmittedKind = chosen.kind;
    url = action;
  }
  throw new StepError('too_many_hops', { max_hops: maxHops, hops });
}

// ---------------------------------------------------------------------------------------------
// Client authentication
// ---------------------------------------------------------------------------------------------

async function importPrivateJwk(raw) {
  let text = raw.trim();
  if (!text.startsWith('{')) text = fs.readFileSync(text, 'utf8');
  const jwk = JSON.parse(text);
  if (jwk.keys) throw new StepError('RP_PRIVATE_JWK must be a single JWK, not a JWK Set');
  if (!jwk.d) throw new StepError('RP_PRIVATE_JWK is not a private key (no "d")');
  let alg = jwk.alg;
  if (!alg) {
    if (jwk.kty === 'RSA') alg = 'RS256';
    else if (jwk.kty === 'EC') alg = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' }[jwk.crv];
    else if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') alg = 'Ed25519';
  }
  let algorithm;
  if (/^RS(256|384|512)$/.test(alg)) algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: `SHA-${alg.slice(2)}` };
  else if (/^PS(256|384|512)$/.test(alg)) algorithm = { name: 'RSA-PSS', hash: `SHA-${alg.slice(2)}` };
  else if (/^ES(256|384|512)$/.test(alg)) algorithm = { name: 'ECDSA', namedCurve: jwk.crv };
  else if (alg === 'EdDSA' || alg === 'Ed25519') algorithm = { name: 'Ed25519' };
  else throw new StepError('unsupported RP_PRIVATE_JWK algorithm', { alg, kty: jwk.kty, crv: jwk.crv });
  // Keep only the key material so WebCrypto does not trip over alg/use/key_ops/kid members.
  const material = Object.fromEntries(Object.entries(jwk)
    .filter(([k]) => ['kty', 'crv', 'n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi', 'x', 'y'].includes(k)));
  const key = await crypto.subtle.importKey('jwk', material, algorithm, false, ['sign']);
  return { key, kid: jwk.kid, alg };
}

async function clientAuthentication() {
  const method = env.RP_TOKEN_ENDPOINT_AUTH_METHOD
    || (env.RP_PRIVATE_JWK ? 'private_key_jwt' : env.RP_CLIENT_SECRET ? 'client_secret_basic' : 'none');
  const metadata = {};
  switch (method) {
    case 'client_secret_basic':
    case 'client_secret_post': {
      if (!env.RP_CLIENT_SECRET) throw new StepError(`${method} needs RP_CLIENT_SECRET`);
      metadata.client_secret = env.RP_CLIENT_SECRET;
      const auth = method === 'client_secret_basic'
        ? client.ClientSecretBasic(env.RP_CLIENT_SECRET)
        : client.ClientSecretPost(env.RP_CLIENT_SECRET);
      return { method, metadata, auth, info: {} };
    }
    case 'private_key_jwt': {
      if (!env.RP_PRIVATE_JWK) throw new StepError('private_key_jwt needs RP_PRIVATE_JWK');
      const { key, kid, alg } = await importPrivateJwk(env.RP_PRIVATE_JWK);
      metadata.token_endpoint_auth_signing_alg = alg === 'Ed25519' ? 'EdDSA' : alg;
      return { method, metadata, auth: client.PrivateKeyJwt(kid ? { key, kid } : key), info: { alg, kid: kid ?? null } };
    }
    case 'none':
      return { method, metadata, auth: client.None(), info: {} };
    default:
      throw new StepError('unknown RP_TOKEN_ENDPOINT_AUTH_METHOD', { method });
  }
}

// ---------------------------------------------------------------------------------------------
// The flow
// ---------------------------------------------------------------------------------------------

function required(name) {
  const v = env[name];
  if (!v) throw new StepError('missing_configuration', { variable: name });
  return v;
}

const DISCOVERY_FIELDS = [
  'issuer', 'authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri', 'revocation_endpoint',
  'end_session_endpoint', 'response_types_supported', 'response_modes_supported', 'grant_types_supported',
  'code_challenge_methods_supported', 'id_token_signing_alg_values_supported', 'token_endpoint_auth_methods_supported',
  'token_endpoint_auth_signing_alg_values_supported', 'authorization_response_iss_parameter_supported',
  'pushed_authorization_request_endpoint', 'require_pushed_authorization_requests', 'dpop_signing_alg_values_supported',
  'scopes_supported', 'claims_supported', 'subject_types_supported', 'prompt_values_supported',
];

async function main() {
  const unknownSkips = [...SKIP].filter((s) => !KNOWN_SKIPS.has(s));
  if (unknownSkips.length) throw Object.assign(new StepError('unknown RP_SKIP entries', { unknown: unknownSkips, known: [...KNOWN_SKIPS] }), { step: 'config', exit: 2 });

  let issuer;
  let clientId;
  let redirectUri;
  let auth;
  const scope = env.RP_SCOPE ?? 'openid profile email offline_access';
  const prompt = env.RP_PROMPT ?? 'consent';
  const creds = { username: env.RP_USERNAME ?? '', password: env.RP_PASSWORD ?? '', totpSecret: env.RP_TOTP_SECRET, consent: env.RP_CONSENT || 'allow' };
  try {
    issuer = new URL(required('OP_ISSUER'));
    assertLoopback(issuer);
    clientId = env.RP_INITIAL_ACCESS_TOKEN ? null : required('RP_CLIENT_ID');
    redirectUri = required('RP_REDIRECT_URI');
    new URL(redirectUri); // eslint-disable-line no-new
    if (!env.RP_USERNAME || env.RP_PASSWORD === undefined) throw new StepError('missing_configuration', { variable: 'RP_USERNAME/RP_PASSWORD' });
    if (!SKIP.has('end_session')) new URL(required('RP_POST_LOGOUT_REDIRECT_URI')); // eslint-disable-line no-new
    if (!['allow', 'deny'].includes(creds.consent)) throw new StepError('RP_CONSENT must be allow or deny', { value: creds.consent });
    auth = await clientAuthentication();
  } catch (err) {
    err.step = 'config';
    err.exit = 2;
    throw err;
  }
  result.client = { client_id: clientId, token_endpoint_auth_method: auth.method, ...auth.info };

  // 1. discovery ---------------------------------------------------------------------------------
  const config = await step('discovery', async (entry) => {
    const metadata = { ...auth.metadata, redirect_uris: [redirectUri], response_types: ['code'] };
    if (env.RP_ID_TOKEN_ALG) metadata.id_token_signed_response_alg = env.RP_ID_TOKEN_ALG;
    const execute = [client.enableNonRepudiationChecks]; // also verify ID token signatures against jwks_uri
    if (issuer.protocol === 'http:') execute.unshift(client.allowInsecureRequests);
    let cfg;
    if (env.RP_INITIAL_ACCESS_TOKEN) {
      // Discovery, then POST registration_endpoint with the initial access token (RFC 7591 §3).
      const extra = env.RP_REGISTER_METADATA ? JSON.parse(env.RP_REGISTER_METADATA) : {};
      delete metadata.client_secret;
      cfg = await client.dynamicClientRegistration(issuer, { ...metadata, ...extra, token_endpoint_auth_method: auth.method }, auth.auth, {
        initialAccessToken: env.RP_INITIAL_ACCESS_TOKEN,
        execute,
        timeout: TIMEOUT_S,
        [client.customFetch]: guardedFetch,
      });
      const registered = cfg.clientMetadata();
      clientId = registered.client_id;
      result.client.client_id = clientId;
      result.registration = {
        client_id: registered.client_id,
        status: registered.status,
        review_reasons: registered.review_reasons ?? [],
        registration_client_uri: registered.registration_client_uri,
        registration_access_token: registered.registration_access_token,
        token_endpoint_auth_method: registered.token_endpoint_auth_method,
      };
    } else {
      cfg = await client.discovery(issuer, clientId, metadata, auth.auth, {
        execute,
        timeout: TIMEOUT_S,
        [client.customFetch]: guardedFetch,
      });
    }
    const md = cfg.serverMetadata();
    for (const k of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri', 'revocation_endpoint', 'end_session_endpoint']) {
      if (md[k]) assertLoopback(md[k]);
    }
    result.discovery = Object.fromEntries(DISCOVERY_FIELDS.filter((k) => md[k] !== undefined).map((k) => [k, md[k]]));
    entry.issuer = md.issuer;
    entry.supports_pkce_s256 = md.supportsPKCE('S256');
    return cfg;
  });

  // DPoP: one key for the whole grant; openid-client retries once with the OP's DPoP-Nonce.
  const dpopOptions = USE_DPOP ? { DPoP: client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256')) } : undefined;
  result.dpop = USE_DPOP;

  // 2.+3. authorization request and the OP's pages ---------------------------------------------
  const codeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const callback = await step('authorize', async (entry) => {
    const params = {
      redirect_uri: redirectUri,
      scope,
      code_challenge: codeChallenge,
      code_challenge_method: 'S256',
      state,
      nonce,
    };
    if (prompt) params.prompt = prompt;
    for (const [k, v] of new URLSearchParams(env.RP_EXTRA_AUTH_PARAMS || '')) params[k] = v;
    const authUrl = USE_PAR
      ? await client.buildAuthorizationUrlWithPAR(config, params, dpopOptions)
      : client.buildAuthorizationUrl(config, params);
    entry.authorization_url = authUrl.href;
    entry.pushed = USE_PAR;
    const { location, hops } = await browse(authUrl, { stopPrefixes: [redirectUri], creds, label: 'authorize' });
    entry.hops = hops;
    entry.callback = location.href.replace(/([?&]code=)[^&#]+/, '$1…');
    entry.callback_params = [...new Set(location.searchParams.keys())];
    return location;
  });

  // 4'. RP_CONSENT=deny: the OP must send an error authorization response (with state and iss) ----
  if (creds.consent === 'deny') {
    await step('authorization_error', async (entry) => {
      try {
        await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
      } catch (err) {
        if (!(err instanceof client.AuthorizationResponseError)) throw err;
        result.authorization_error = err.error;
        entry.error_code = err.error;
        entry.error_description = err.error_description ?? null;
        return;
      }
      throw new StepError('code_issued_after_deny');
    });
    return;
  }

  // 4. code exchange (state, iss, PKCE, ID token incl. signature, nonce) --------------------------
  const tokens = await step('code_exchange', async () => client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  }, undefined, dpopOptions));
  const claims = tokens.claims();
  result.id_token_claims = claims;
  result.id_token_header = JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url').toString('utf8'));
  result.token_response = {
    token_type: tokens.token_type,
    cnf: tokens.cnf ?? null,
    expires_in: tokens.expires_in ?? null,
    scope: tokens.scope ?? null,
    has_refresh_token: typeof tokens.refresh_token === 'string',
    has_id_token: typeof tokens.id_token === 'string',
    extra_fields: Object.keys(tokens).filter((k) => !['access_token', 'token_type', 'expires_in', 'scope', 'refresh_token', 'id_token'].includes(k)),
  };
  Object.assign(steps.at(-1), { id_token_alg: result.id_token_header.alg, id_token_kid: result.id_token_header.kid ?? null, sub: claims.sub });

  // 5. userinfo ------------------------------------------------------------------------------------
  if (SKIP.has('userinfo')) skipped('userinfo');
  else {
    result.userinfo = await step('userinfo', async () => client.fetchUserInfo(config, tokens.access_token, claims.sub, dpopOptions));
  }

  // 6. refresh -------------------------------------------------------------------------------------
  let currentRefresh = tokens.refresh_token;
  let latestIdToken = tokens.id_token;
  if (SKIP.has('refresh')) skipped('refresh');
  else {
    await step('refresh', async (entry) => {
      if (!currentRefresh) {
        throw new StepError('no_refresh_token_in_token_response', { scope_requested: scope, scope_granted: tokens.scope ?? null, prompt });
      }
      const old = currentRefresh;
      const r = await client.refreshTokenGrant(config, old, undefined, dpopOptions);
      result.refreshed = true;
      result.refresh_rotated = typeof r.refresh_token === 'string' && r.refresh_token !== old;
      entry.rotated = result.refresh_rotated;
      entry.scope = r.scope ?? null;
      entry.expires_in = r.expires_in ?? null;
      if (r.refresh_token) currentRefresh = r.refresh_token;
      if (r.id_token) {
        // OpenID Connect Core 12.2: same iss and sub, aud includes client, azp rules as originally.
        const c2 = r.claims();
        const same = c2.iss === claims.iss && c2.sub === claims.sub;
        entry.id_token = { present: true, iss_sub_match: same, has_nonce: c2.nonce !== undefined, auth_time_same: c2.auth_time === claims.auth_time };
        if (!same) throw new StepError('refreshed_id_token_subject_or_issuer_changed', { original: claims, refreshed: c2 });
        latestIdToken = r.id_token;
      } else entry.id_token = { present: false };
      // The new access token works at userinfo.
      if (!SKIP.has('userinfo') && config.serverMetadata().userinfo_endpoint) {
        await client.fetchUserInfo(config, r.access_token, claims.sub, dpopOptions);
        entry.userinfo_with_new_access_token = true;
      }
      if (result.refresh_rotated) result._oldRefresh = old;
      result._newAccess = r.access_token;
    });
  }

  // 7. revocation ----------------------------------------------------------------------------------
  if (SKIP.has('revocation')) skipped('revocation');
  else {
    await step('revocation', async (entry) => {
      if (!currentRefresh) throw new StepError('no_refresh_token_to_revoke');
      if (!config.serverMetadata().revocation_endpoint) throw new StepError('no_revocation_endpoint_in_discovery');
      await client.tokenRevocation(config, currentRefresh, { token_type_hint: 'refresh_token' });
      entry.revoked = true;
      try {
        await client.refreshTokenGrant(config, currentRefresh, undefined, dpopOptions);
      } catch (err) {
        result.revoked_refresh_error = errorCode(err) ?? describeError(err).error;
        entry.refresh_after_revocation = { error: result.revoked_refresh_error, status: err.status ?? null };
      }
      if (result.revoked_refresh_error === undefined) {
        throw new StepError('refresh_token_still_usable_after_revocation');
      }
      // Informational: the pre-rotation refresh token (should be dead after rotation) ...
      if (result._oldRefresh) {
        try {
          await client.refreshTokenGrant(config, result._oldRefresh, undefined, dpopOptions);
          entry.old_refresh_token_reuse = 'accepted';
        } catch (err) {
          entry.old_refresh_token_reuse = errorCode(err) ?? describeError(err).error;
        }
      }
      // ... and the access tokens of the grant (RFC 7009 §2.1: SHOULD be revoked too, when supported).
      const at = result._newAccess ?? tokens.access_token;
      if (config.serverMetadata().userinfo_endpoint) {
        try {
          await client.fetchUserInfo(config, at, client.skipSubjectCheck, dpopOptions);
          entry.access_token_after_revocation = 'still_accepted';
        } catch (err) {
          entry.access_token_after_revocation = errorCode(err) ?? describeError(err).error;
        }
      }
    });
  }
  delete result._oldRefresh;
  delete result._newAccess;

  // 8. RP-initiated logout -------------------------------------------------------------------------
  if (SKIP.has('end_session')) skipped('end_session');
  else {
    await step('end_session', async (entry) => {
      const postLogout = env.RP_POST_LOGOUT_REDIRECT_URI;
      const logoutState = client.randomState();
      const url = client.buildEndSessionUrl(config, {
        id_token_hint: latestIdToken,
        post_logout_redirect_uri: postLogout,
        state: logoutState,
      });
      entry.url = url.href.replace(/(id_token_hint=)[^&]+/, '$1…');
      const res = await browserRequest(url);
      const es = { status: res.status, location: res.location ? new URL(res.location, url).href : null };
      result.end_session = es;
      const checkLanding = (loc) => {
        if (!isUnder(loc, postLogout)) return false;
        const echoed = loc.searchParams.get('state');
        if (echoed !== logoutState) throw new StepError('end_session_state_mismatch', { expected: logoutState, got: echoed, location: loc.href });
        return true;
      };
      if (res.status >= 300 && res.status < 400 && es.location) {
        const loc = new URL(es.location);
        if (checkLanding(loc)) {
          es.outcome = 'redirected';
          es.state_ok = true;
          return;
        }
        // Redirect within the OP (e.g. to a confirmation page): keep browsing like a user would.
        const b = await browse(loc, { stopPrefixes: [postLogout], creds, label: 'end_session', maxHops: 10 });
        checkLanding(b.location);
        es.outcome = 'redirected_after_op_pages';
        es.final_location = b.location.href;
        es.state_ok = true;
        es.hops = b.hops;
        return;
      }
      if (res.status >= 400) {
        throw new StepError('end_session_error', { status: res.status, text: textOf(res.text).slice(0, 600) });
      }
      const { forms } = parseForms(res.text);
      const { chosen } = chooseForm(forms);
      if (!chosen) {
        es.outcome = 'page_without_form';
        es.page_text = textOf(res.text).slice(0, 300);
        return;
      }
      // A logout confirmation page: confirm it like the user would and land on the post-logout URI.
      es.outcome = 'confirmation_page';
      const b = await browseFromPage(url, res, postLogout, creds);
      checkLanding(b.location);
      es.confirmed = { final_location: b.location.href, state_ok: true, hops: b.hops };
    });
  }

  // 9. (informational) is the OP session gone? prompt=none must now fail -----------------------------
  if (SKIP.has('end_session') || SKIP.has('session_check')) skipped('session_check', SKIP.has('session_check') ? 'RP_SKIP' : 'end_session skipped');
  else {
    const entry = { name: 'session_check', ok: true, informational: true };
    steps.push(entry);
    const started = Date.now();
    try {
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: 'openid',
        code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
        state: client.randomState(),
        nonce: client.randomNonce(),
        prompt: 'none',
      });
      const res = await browserRequest(url);
      const loc = res.location ? new URL(res.location, url) : null;
      if (loc && isUnder(loc, redirectUri)) {
        entry.prompt_none_result = loc.searchParams.get('error') ?? (loc.searchParams.has('code') ? 'code_issued' : 'redirect');
      } else {
        entry.prompt_none_result = `http_${res.status}`;
      }
      entry.session_ended = entry.prompt_none_result !== 'code_issued';
    } catch (err) {
      entry.prompt_none_result = describeError(err).error;
    }
    entry.ms = Date.now() - started;
    result.session_check = { prompt_none: entry.prompt_none_result };
  }
}

// Submit a logout confirmation page we already hold, then keep browsing.
async function browseFromPage(pageUrl, res, stopPrefix, creds) {
  const { forms } = parseForms(res.text);
  const { chosen } = chooseForm(forms);
  const { submitter, onlyDeny } = chooseSubmitter(chosen.form);
  if (onlyDeny) throw new StepError('confirmation_form_only_deny_buttons');
  const { entries } = fillForm(chosen.form, submitter, creds);
  const actionAttr = submitter?.attrs.formaction ?? chosen.form.attrs.action;
  const action = actionAttr ? new URL(actionAttr, pageUrl) : new URL(pageUrl);
  const first = await browserRequest(action, { method: 'POST', body: new URLSearchParams(entries), referer: pageUrl });
  const hop = {
    method: 'POST', url: action.href, status: first.status,
    form: { fields: entries.map(([k]) => k), button: submitter ? `${submitter.attrs.name ?? ''}=${submitter.attrs.value ?? ''}` : null },
  };
  if (first.status >= 300 && first.status < 400 && first.location) {
    const loc = new URL(first.location, action);
    hop.location = loc.href;
    if (isUnder(loc, stopPrefix)) return { location: loc, hops: [hop] };
    const b = await browse(loc, { stopPrefixes: [stopPrefix], creds, label: 'end_session', maxHops: 10 });
    return { location: b.location, hops: [hop, ...b.hops] };
  }
  throw new StepError('logout_confirmation_did_not_redirect', { ...hop, text: textOf(first.text).slice(0, 300) });
}

async function run() {
  try {
    await main();
    const out = {
      ok: true,
      ...(result.authorization_error !== undefined && { authorization_error: result.authorization_error }),
      id_token_claims: result.id_token_claims,
      id_token_header: result.id_token_header,
      userinfo: result.userinfo ?? null,
      refreshed: result.refreshed ?? false,
      refresh_rotated: result.refresh_rotated ?? null,
      revoked_refresh_error: result.revoked_refresh_error ?? null,
      end_session: result.end_session ?? null,
      session_check: result.session_check ?? null,
      token_response: result.token_response,
      client: result.client,
      ...(result.registration !== undefined && { registration: result.registration }),
      discovery: result.discovery,
      openid_client_version: await libraryVersion(),
      steps,
    };
    emit(out, 0);
  } catch (err) {
    const { error, details } = describeError(err);
    emit({
      ok: false,
      step: err.step ?? steps.at(-1)?.name ?? 'unknown',
      error,
      details,
      partial: Object.fromEntries(Object.entries(result).filter(([k]) => !k.startsWith('_') && k !== 'ok')),
      openid_client_version: await libraryVersion(),
      steps,
    }, err.exit ?? 1);
  }
}

async function libraryVersion() {
  try {
    const p = new URL('./node_modules/openid-client/package.json', import.meta.url);
    return JSON.parse(fs.readFileSync(p, 'utf8')).version;
  } catch {
    return null;
  }
}

// Helpers exported for unit tests; the flow runs only when this file is executed directly.
export { parseForms, chooseForm, chooseSubmitter, fillForm, isUnder, isLoopbackHost, textOf, totp, browse };

if (process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  await run();
}
