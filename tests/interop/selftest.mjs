// Offline self-test of rp.mjs's HTML form handling (loopback only, no OP needed): `node --test selftest.mjs`.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';

import { browse, chooseForm, chooseSubmitter, fillForm, isLoopbackHost, isUnder, parseForms, totp } from './rp.mjs';

const creds = { username: 'alice@example.test', password: 'pa&ss"word' };

function submit(html) {
  const { forms } = parseForms(html);
  const { chosen } = chooseForm(forms);
  assert.ok(chosen, 'a form is chosen');
  const { submitter, onlyDeny } = chooseSubmitter(chosen.form);
  assert.ok(!onlyDeny);
  const { entries } = fillForm(chosen.form, submitter, creds);
  return { kind: chosen.kind, action: chosen.form.attrs.action, params: new URLSearchParams(entries) };
}

const LANG_FORM = `<form method="post" action="/lang"><input type="hidden" name="next" value="/x">
  <select name="lang" onchange="this.form.submit()"><option value="th" selected>ไทย</option><option value="en">English</option></select>
  <button type="submit">เปลี่ยนภาษา</button></form>`;

test('sign-in form: autocomplete tokens, hidden csrf, language form ignored', () => {
  const html = `<!doctype html><html><body>${LANG_FORM}
  <!-- <form method="post" action="/evil"><input type="password" name="p"></form> -->
  <form method="post" action="/login?next=%2Fauthorize&amp;x=1" class="signin">
    <input type="hidden" name="csrf_token" value="IjY0&quot;abc.def">
    <label>อีเมล <input id="e" type="text" name="email" autocomplete="username" required></label>
    <input type=password name=password autocomplete="current-password">
    <input type="checkbox" name="remember" value="1">
    <button type="submit">เข้าสู่ระบบ</button>
  </form></body></html>`;
  const r = submit(html);
  assert.equal(r.kind, 'password');
  assert.equal(r.action, '/login?next=%2Fauthorize&x=1');
  assert.deepEqual([...r.params.entries()], [
    ['csrf_token', 'IjY0"abc.def'], ['email', 'alice@example.test'], ['password', 'pa&ss"word'],
  ]);
});

test('consent form: allow pressed, deny never sent', () => {
  const html = `${LANG_FORM}<form method="POST" action="">
    <input type="hidden" name="csrf_token" value="t1"><input type="hidden" name="request_id" value="r1">
    <button type="submit" name="decision" value="deny">ไม่อนุญาต</button>
    <button type="submit" name="decision" value="allow" class="primary">อนุญาต</button></form>`;
  const r = submit(html);
  assert.equal(r.kind, 'other');
  assert.deepEqual([...r.params.entries()], [['csrf_token', 't1'], ['request_id', 'r1'], ['decision', 'allow']]);
  // RP_CONSENT=deny presses the deny button instead
  const { forms } = parseForms(html);
  const form = chooseForm(forms).chosen.form;
  const { submitter } = chooseSubmitter(form, true);
  assert.deepEqual(fillForm(form, submitter, creds).entries.at(-1), ['decision', 'deny']);
});

test('deny-only form is refused; button outside form via form= attribute', () => {
  const { forms } = parseForms('<form method="post" action="/c"><button name="decision" value="deny">Deny</button></form>');
  assert.equal(chooseForm(forms).chosen.denyOnly, true);
  const html = `<form method="post" action="/session/end/confirm" id="op.logoutForm"><input type="hidden" name="xsrf" value="x1"/></form>
    <button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
    <button type="submit" form="op.logoutForm">No, stay signed in</button>`;
  const r = submit(html);
  assert.deepEqual([...r.params.entries()], [['xsrf', 'x1'], ['logout', 'yes']]);
});

test('name heuristics without autocomplete (oidc-provider devInteractions)', () => {
  const html = `<form autocomplete="off" action="/interaction/abc" method="post">
    <input type="hidden" name="prompt" value="login"/>
    <input required type="text" name="login" placeholder="Enter any login" autofocus="on">
    <input required type="password" name="password" placeholder="and password">
    <button type="submit" class="login login-submit">Sign-in</button></form>`;
  const r = submit(html);
  assert.deepEqual([...r.params.entries()], [['prompt', 'login'], ['login', 'alice@example.test'], ['password', 'pa&ss"word']]);
});

test('GET forms are not candidates; helpers', () => {
  assert.equal(chooseForm(parseForms('<form action="/search"><input name="q"></form>').forms).chosen, undefined);
  assert.ok(isUnder(new URL('http://127.0.0.1:8999/cb?code=1'), 'http://127.0.0.1:8999/cb'));
  assert.ok(!isUnder(new URL('http://127.0.0.1:8999/cb2?code=1'), 'http://127.0.0.1:8999/cb'));
  assert.ok(isLoopbackHost('127.0.0.1') && isLoopbackHost('localhost') && isLoopbackHost('[::1]'));
  assert.ok(!isLoopbackHost('10.0.0.1') && !isLoopbackHost('example.com') && !isLoopbackHost('127.0.0.1.nip.io'));
  assert.match(totp('JBSWY3DPEHPK3PXP'), /^\d{6}$/);
});

// A tiny fake OP front-end (loopback, ephemeral port): sign-in page with CSRF cookie, consent page.
async function fakeOp(fn) {
  const seen = [];
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    const url = new URL(req.url, 'http://127.0.0.1');
    const form = new URLSearchParams(body);
    const cookies = Object.fromEntries((req.headers.cookie || '').split('; ').filter(Boolean).map((c) => c.split('=')));
    seen.push({ method: req.method, path: url.pathname, origin: req.headers.origin, cookies });
    const page = (html, status = 200) => { res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' }); res.end(html); };
    const redirect = (loc, extra = {}) => { res.writeHead(302, { location: loc, ...extra }); res.end(); };
    if (url.pathname === '/authorize') return redirect('/login?next=%2Fconsent', { 'set-cookie': ['session=s1; Path=/; HttpOnly; SameSite=Lax', 'junk=1; Path=/; Max-Age=0'] });
    if (url.pathname === '/login' && req.method === 'GET') {
      return page(`<form method="post" action="/lang"><select name="lang"><option>th</option></select></form>
        <form method="post"><input type="hidden" name="csrf_token" value="c-${cookies.session}">
        <input name="email" autocomplete="username"><input type="password" name="password" autocomplete="current-password">
        <button>Sign in</button></form>`);
    }
    if (url.pathname === '/login') {
      if (form.get('csrf_token') !== `c-${cookies.session}` || req.headers.origin !== `http://127.0.0.1:${server.address().port}`) return page('csrf failed', 400);
      if (form.get('password') !== 'good') return page(`<p>Wrong password</p><form method="post"><input type="hidden" name="csrf_token" value="c-s1"><input name="email" autocomplete="username"><input type="password" name="password" autocomplete="current-password"><button>Sign in</button></form>`, 401);
      return redirect(url.searchParams.get('next'), { 'set-cookie': 'auth=a1; Path=/; HttpOnly; Secure' });
    }
    if (url.pathname === '/consent' && req.method === 'GET') {
      if (cookies.auth !== 'a1') return page('not signed in', 403);
      return page(`<form method="post" action="/consent"><input type="hidden" name="csrf_token" value="c2">
        <button name="decision" value="allow">Allow</button><button name="decision" value="deny">Deny</button></form>`);
    }
    if (url.pathname === '/consent') return redirect(`https://rp.example/cb?code=${form.get('decision')}&state=st&iss=x`);
    return page('nope', 404);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    return await fn(`http://127.0.0.1:${server.address().port}`, seen);
  } finally {
    server.close();
  }
}

test('browse: cookies, csrf, origin, consent allow, stops at redirect_uri without fetching it', async () => {
  await fakeOp(async (base, seen) => {
    const r = await browse(`${base}/authorize`, { stopPrefixes: ['https://rp.example/cb'], creds: { username: 'a', password: 'good' }, label: 't' });
    assert.equal(r.location.href, 'https://rp.example/cb?code=allow&state=st&iss=x');
    assert.deepEqual(seen.map((s) => `${s.method} ${s.path}`), ['GET /authorize', 'GET /login', 'POST /login', 'GET /consent', 'POST /consent']);
    assert.equal(seen[2].cookies.junk, undefined);
  });
});

test('browse: rejected password is reported, not looped', async () => {
  await fakeOp(async (base) => {
    await assert.rejects(
      browse(`${base}/authorize`, { stopPrefixes: ['https://rp.example/cb'], creds: { username: 'a', password: 'bad' }, label: 't' }),
      (err) => err.message === 'password_form_shown_again' && /Wrong password/.test(err.details.text),
    );
  });
});
