// Passkeys and security keys: the browser half of the WebAuthn ceremonies.
// The server sends py_webauthn's JSON options; we turn base64url into bytes, call the
// authenticator and post back the credential as PublicKeyCredential.toJSON() would.
(function () {
  "use strict";
  const b64ToBuf = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/") +
    "===".slice((s.length + 3) % 4)), (c) => c.charCodeAt(0)).buffer;
  const bufToB64 = (b) => btoa(String.fromCharCode(...new Uint8Array(b)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf()},
      body: JSON.stringify(body || {}),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) { throw Object.assign(new Error(data.message || "error"), {server: true}); }
    return data;
  }

  function showError(message) {
    const box = document.getElementById("webauthn-error");
    if (box) { box.textContent = message; box.hidden = false; }
    window.webauthnResult = {ok: false, message};
  }

  function encodeCredential(cred) {
    const r = cred.response;
    const response = {clientDataJSON: bufToB64(r.clientDataJSON)};
    if (r.attestationObject) {
      response.attestationObject = bufToB64(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = bufToB64(r.authenticatorData);
      response.signature = bufToB64(r.signature);
      response.userHandle = r.userHandle ? bufToB64(r.userHandle) : null;
    }
    return {id: cred.id, rawId: bufToB64(cred.rawId), type: cred.type,
            authenticatorAttachment: cred.authenticatorAttachment || null,
            clientExtensionResults: cred.getClientExtensionResults(), response};
  }

  function requestOptions(o) {
    o.challenge = b64ToBuf(o.challenge);
    (o.allowCredentials || []).forEach((c) => { c.id = b64ToBuf(c.id); });
    return o;
  }

  async function authenticate(body, next, mediation, signal) {
    const options = requestOptions(await post("/webauthn/authenticate/options", body));
    if (signal && signal.aborted) { return; }
    const args = {publicKey: options};
    if (mediation) { args.mediation = mediation; args.signal = signal; }
    const cred = await navigator.credentials.get(args);
    const done = await post("/webauthn/authenticate", {credential: encodeCredential(cred), next});
    window.webauthnResult = {ok: true};
    window.location.assign(done.redirect);
  }

  function failed(err) {
    if (err && err.name === "AbortError") { return; }
    const box = document.getElementById("webauthn-error");
    showError(err && err.server ? err.message : (box && box.dataset.fallback) || String(err));
  }

  function init() {
    if (!window.PublicKeyCredential) { return; }
    // One ceremony at a time: the server keeps a single pending challenge per browser.
    let conditional = null;
    let conditionalDone = Promise.resolve();
    let clicked = false;
    const signin = document.querySelector("[data-webauthn-signin]");
    if (signin) {
      const next = signin.dataset.next;
      document.getElementById("passkey-signin").addEventListener("click", async () => {
        clicked = true;
        if (conditional) { conditional.abort(); }
        await conditionalDone;
        authenticate({}, next).catch(failed);
      });
      // Conditional UI: the browser offers passkeys in the email field's autofill.
      if (PublicKeyCredential.isConditionalMediationAvailable) {
        PublicKeyCredential.isConditionalMediationAvailable().then((ok) => {
          if (!ok || clicked) { return; }
          conditional = new AbortController();
          conditionalDone = authenticate({}, next, "conditional", conditional.signal).catch(failed);
        });
      }
    }
    const stepup = document.querySelector("[data-webauthn-stepup]");
    if (stepup) {
      document.getElementById("passkey-stepup").addEventListener("click", () => {
        authenticate({step_up: true, aal: stepup.dataset.aal}, stepup.dataset.next).catch(failed);
      });
    }
    // Account recovery: the passkey or security key as the second factor after the emailed link.
    const recover = document.querySelector("[data-webauthn-recover]");
    if (recover) {
      document.getElementById("passkey-recover").addEventListener("click", async () => {
        try {
          const options = requestOptions(await post(recover.dataset.options, {}));
          const cred = await navigator.credentials.get({publicKey: options});
          const done = await post(recover.dataset.verify, {credential: encodeCredential(cred)});
          window.webauthnResult = {ok: true};
          window.location.assign(done.redirect);
        } catch (err) { failed(err); }
      });
    }
    const register = document.querySelector("[data-webauthn-register]");
    if (register) {
      document.getElementById("webauthn-register").addEventListener("click", async () => {
        try {
          const o = await post("/webauthn/register/options", {kind: register.dataset.kind});
          o.challenge = b64ToBuf(o.challenge);
          o.user.id = b64ToBuf(o.user.id);
          (o.excludeCredentials || []).forEach((c) => { c.id = b64ToBuf(c.id); });
          const cred = await navigator.credentials.create({publicKey: o});
          const done = await post("/webauthn/register", {
            credential: encodeCredential(cred), name: document.getElementById("credential-name").value,
            next: register.dataset.next});
          window.webauthnResult = {ok: true};
          window.location.assign(done.redirect);
        } catch (err) { failed(err); }
      });
    }
  }
  document.addEventListener("DOMContentLoaded", init);
}());
